package ops_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// blobSpy records the tenant key blob of each Open.
type blobSpy struct {
	backend.Backend
	mu    sync.Mutex
	blobs []string
}

func (b *blobSpy) Open(ctx context.Context, r backend.OpenRequest) ([]byte, error) {
	b.mu.Lock()
	b.blobs = append(b.blobs, string(r.Key.Blob))
	b.mu.Unlock()
	return b.Backend.Open(ctx, r)
}

func (b *blobSpy) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blobs[len(b.blobs)-1]
}

// TestForgetTenantKeys: the service keeps a tenant's KEK blob after its
// first use, and reads the stored one again once told that tenant records
// changed elsewhere (another node's rewrap).
func TestForgetTenantKeys(t *testing.T) {
	ctx := context.Background()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	spy := &blobSpy{Backend: kmiptest.NewSoftBackend()}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	svc := ops.New(ops.Deps{Store: st, Backend: spy, BackendType: "soft", Log: log})
	x := &server.Executor{Ops: svc, Log: log}

	r, err := exec(ctx, x, "t1", kmip20.OperationCreate, kmiptest.CreateAES(message.V1_4, 256))
	require.NoError(t, err)
	require.Equal(t, kmip14.ResultStatusSuccess, r.ResultStatus, r.ResultMessage)
	var id kmiptest.UID
	require.NoError(t, decodeInto(r.ResponsePayload, &id))
	get := func() {
		_, err := exec(ctx, x, "t1", kmip20.OperationGet, kmiptest.Get(id.UniqueIdentifier, kmip14.KeyFormatTypeRaw))
		require.NoError(t, err)
	}
	get()
	original := spy.last()

	// Another process replaces the stored blob (a rewrap).
	tn, err := st.GetTenant(ctx, "t1")
	require.NoError(t, err)
	tn.KeyBlob = append([]byte("rewrapped:"), tn.KeyBlob...)
	require.NoError(t, st.PutTenant(ctx, tn))
	get()
	assert.Equal(t, original, spy.last(), "the cached blob is used until the service is told")
	svc.ForgetTenantKeys()
	get()
	assert.Equal(t, string(tn.KeyBlob), spy.last(), "after ForgetTenantKeys the stored blob is read again")
}
