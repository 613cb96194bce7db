package ops_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// rootRecorder is a backend that notes the tenant root each new tenant
// key was asked under.
type rootRecorder struct {
	backend.Backend
	roots map[string]string
}

func (r *rootRecorder) NewTenantKey(ctx context.Context, tenantID string) (backend.TenantKey, error) {
	r.roots[tenantID] = backend.TenantRootFrom(ctx)
	return r.Backend.NewTenantKey(ctx, tenantID)
}

// TestCreateTenantAsksForItsRoot: the tenant's root reference (its
// settings' Root) reaches the backend that makes its KEK.
func TestCreateTenantAsksForItsRoot(t *testing.T) {
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	be := &rootRecorder{Backend: kmiptest.NewSoftBackend(), roots: map[string]string{}}
	svc := ops.New(ops.Deps{Store: st, Backend: be, BackendType: "hpcs", Log: zerolog.Nop()})
	ctx := context.Background()

	_, err = svc.CreateTenant(ctx, "own", "", store.TenantSettings{Status: store.TenantEnabled, Root: "root-key-b"})
	require.NoError(t, err)
	tn, err := svc.CreateTenant(ctx, "default", "", store.TenantSettings{Status: store.TenantEnabled})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"own": "root-key-b", "default": ""}, be.roots)
	assert.Equal(t, "hpcs", tn.Backend)
}
