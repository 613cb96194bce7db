package metrics

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// importingBolt is a bbolt store (which has every optional interface but
// store.Importer and store.Watcher) that takes imports by counting them
// and watches nothing.
type importingBolt struct {
	*bbolt.Store
	imports int
}

func (b *importingBolt) ImportTenant(context.Context, *store.Tenant) error {
	b.imports++
	return nil
}

func (b *importingBolt) ImportObjects(context.Context, []*store.Object) ([]*store.Object, error) {
	b.imports++
	return nil, nil
}

func (b *importingBolt) Watch(ctx context.Context, _ func(store.Change)) { <-ctx.Done() }

func (b *importingBolt) Watching() bool { return false }

func openBolt(t *testing.T) *importingBolt {
	t.Helper()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return &importingBolt{Store: st}
}

// storeCalls returns the measured store calls and errors, by method.
func storeCalls(t *testing.T, m *Metrics) (calls, errs map[string]float64) {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	calls, errs = map[string]float64{}, map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var method string
			if len(s.GetLabel()) > 0 {
				method = s.GetLabel()[0].GetValue()
			}
			switch f.GetName() {
			case "kmip_adapter_store_call_duration_seconds":
				calls[method] = float64(s.GetHistogram().GetSampleCount())
			case "kmip_adapter_store_call_errors_total":
				errs[method] = s.GetCounter().GetValue()
			}
		}
	}
	return calls, errs
}

// TestStoreMeasuresOptionalCalls: the optional calls reach the wrapped
// store and are measured by method; the calls made in a transaction are
// measured too, and a callback's own error is not counted as the
// store's.
func TestStoreMeasuresOptionalCalls(t *testing.T) {
	m := New("test")
	inner := openBolt(t)
	st := m.Store(inner)
	ctx := context.Background()

	require.NoError(t, st.PutTenant(ctx, &store.Tenant{ID: "t1", Backend: "test"}))
	require.NoError(t, transactor(t, st).Update(ctx, func(tx store.Store) error {
		return tx.CreateObject(ctx, &store.Object{TenantID: "t1", ID: "1", ObjectType: 2, State: 1})
	}))
	undo := errors.New("undo")
	err := transactor(t, st).Update(ctx, func(tx store.Store) error {
		require.NoError(t, tx.CreateObject(ctx, &store.Object{TenantID: "t1", ID: "2", ObjectType: 2, State: 1}))
		return undo
	})
	require.ErrorIs(t, err, undo)
	_, err = st.GetObject(ctx, "t1", "2")
	require.ErrorIs(t, err, store.ErrNotFound, "the undone transaction left nothing")

	scanner, ok := store.As[store.Scanner](st)
	require.True(t, ok)
	ids, err := scanner.TenantIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"t1"}, ids)
	stop := errors.New("stop")
	assert.ErrorIs(t, scanner.ScanObjects(ctx, "t1", "", func(*store.Object) error { return stop }), stop)

	reg, ok := store.As[store.Registry](st)
	require.True(t, ok)
	_, err = reg.RegistrySerial(ctx)
	require.NoError(t, err)
	tenants, err := reg.ListTenants(ctx)
	require.NoError(t, err)
	assert.Len(t, tenants, 1)
	_, err = reg.GetClient(ctx, "t1", "nobody")
	assert.ErrorIs(t, err, store.ErrNotFound)
	n, err := st.CountObjects(ctx, store.ListQuery{TenantID: "t1"})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	importer, ok := store.As[store.Importer](st)
	require.True(t, ok)
	_, err = importer.ImportObjects(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, inner.imports)

	calls, errs := storeCalls(t, m)
	assert.Equal(t, map[string]float64{
		"PutTenant": 1, "Update": 2, "CreateObject": 2, "GetObject": 1,
		"TenantIDs": 1, "ScanObjects": 1, "RegistrySerial": 1, "ListTenants": 1, "GetClient": 1,
		"CountObjects": 1, "ImportObjects": 1,
	}, calls)
	assert.Empty(t, errs, "not found and the callbacks' own errors are not store failures")
}

// transactor is st's store.Transactor.
func transactor(t *testing.T, st store.Store) store.Transactor {
	t.Helper()
	tr, ok := store.As[store.Transactor](st)
	require.True(t, ok)
	return tr
}
