package kmiptest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// OtherTenant is a second tenant for isolation tests.
const OtherTenant = "tenant-b"

// ExecuteAs is Execute as a client of tenant, on the same executor (and so
// the same store and root of trust) as every other tenant's requests.
func ExecuteAs(t testing.TB, x *server.Executor, tenant string, msg []byte) (Response, ttlv.TTLV) {
	t.Helper()
	out := x.Execute(context.Background(), tenant, msg)
	require.NotEmpty(t, out)
	var r Response
	require.NoError(t, ttlv.Unmarshal(out, &r), "response must decode")
	require.Equal(t, int(r.ResponseHeader.BatchCount), len(r.BatchItem))
	return r, out
}

// NewExecutorWithStore is NewExecutor that also returns its store, for
// tests that set up what no operation can (an archived object, a record
// written by an older build), and runs the operations on the clock now
// (nil: time.Now).
func NewExecutorWithStore(t testing.TB, now func() time.Time) (*server.Executor, store.Store) {
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	log := zerolog.New(zerolog.NewTestWriter(t))
	svc := ops.New(ops.Deps{Store: st, Backend: NewSoftBackend(), BackendType: "soft", Log: log, Now: now})
	return &server.Executor{Ops: svc, Log: log}, st
}
