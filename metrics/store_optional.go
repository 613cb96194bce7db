package metrics

import (
	"context"
	"time"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// The optional calls of measuredStore (store.Scanner, store.Importer,
// store.Transactor, store.Registry, store.Checkpoints, store.Watcher), offered only when the wrapped store
// has them, and CountObjects. They are measured as the core calls are,
// under their method name.

func (s *measuredStore) CountObjects(ctx context.Context, q store.ListQuery) (n int, err error) {
	defer func(start time.Time) { s.observe("CountObjects", start, err) }(time.Now())
	return s.Store.CountObjects(ctx, q)
}

func (s *measuredStore) TenantIDs(ctx context.Context) (ids []string, err error) {
	defer func(start time.Time) { s.observe("TenantIDs", start, err) }(time.Now())
	return s.Store.(store.Scanner).TenantIDs(ctx)
}

// ScanObjects is measured whole (fn's time included); an error of fn's,
// which ScanObjects returns as it is, is not counted as the store's.
func (s *measuredStore) ScanObjects(ctx context.Context, tenantID, afterID string, fn func(*store.Object) error) (err error) {
	var fnFailed bool
	defer func(start time.Time) { s.observe("ScanObjects", start, storeError(err, fnFailed)) }(time.Now())
	return s.Store.(store.Scanner).ScanObjects(ctx, tenantID, afterID, func(o *store.Object) error {
		err := fn(o)
		fnFailed = err != nil
		return err
	})
}

func (s *measuredStore) ImportTenant(ctx context.Context, t *store.Tenant) (err error) {
	defer func(start time.Time) { s.observe("ImportTenant", start, err) }(time.Now())
	return s.Store.(store.Importer).ImportTenant(ctx, t)
}

func (s *measuredStore) ImportObjects(ctx context.Context, objs []*store.Object) (present []*store.Object, err error) {
	defer func(start time.Time) { s.observe("ImportObjects", start, err) }(time.Now())
	return s.Store.(store.Importer).ImportObjects(ctx, objs)
}

// Update is measured whole (fn's time included, commit too), and the
// calls fn makes on the transaction are measured as the same calls
// outside one. An error of fn's, which Update returns as it is, is not
// counted as the store's.
func (s *measuredStore) Update(ctx context.Context, fn func(tx store.Store) error) (err error) {
	var fnFailed bool
	defer func(start time.Time) { s.observe("Update", start, storeError(err, fnFailed)) }(time.Now())
	return s.Store.(store.Transactor).Update(ctx, func(tx store.Store) error {
		err := fn(s.m.Store(tx))
		fnFailed = err != nil
		return err
	})
}

func (s *measuredStore) registry() store.Registry { return s.Store.(store.Registry) }

func (s *measuredStore) ListTenants(ctx context.Context) (ts []*store.Tenant, err error) {
	defer func(start time.Time) { s.observe("ListTenants", start, err) }(time.Now())
	return s.registry().ListTenants(ctx)
}

func (s *measuredStore) DeleteTenant(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { s.observe("DeleteTenant", start, err) }(time.Now())
	return s.registry().DeleteTenant(ctx, id)
}

func (s *measuredStore) PutClient(ctx context.Context, c *store.Client) (err error) {
	defer func(start time.Time) { s.observe("PutClient", start, err) }(time.Now())
	return s.registry().PutClient(ctx, c)
}

func (s *measuredStore) GetClient(ctx context.Context, tenantID, name string) (c *store.Client, err error) {
	defer func(start time.Time) { s.observe("GetClient", start, err) }(time.Now())
	return s.registry().GetClient(ctx, tenantID, name)
}

func (s *measuredStore) ListClients(ctx context.Context, tenantID string) (cs []*store.Client, err error) {
	defer func(start time.Time) { s.observe("ListClients", start, err) }(time.Now())
	return s.registry().ListClients(ctx, tenantID)
}

func (s *measuredStore) DeleteClient(ctx context.Context, tenantID, name string) (err error) {
	defer func(start time.Time) { s.observe("DeleteClient", start, err) }(time.Now())
	return s.registry().DeleteClient(ctx, tenantID, name)
}

func (s *measuredStore) RegistrySerial(ctx context.Context) (serial uint64, err error) {
	defer func(start time.Time) { s.observe("RegistrySerial", start, err) }(time.Now())
	return s.registry().RegistrySerial(ctx)
}

func (s *measuredStore) checkpoints() store.Checkpoints { return s.Store.(store.Checkpoints) }

func (s *measuredStore) PutCheckpoint(ctx context.Context, c *store.Checkpoint) (err error) {
	defer func(start time.Time) { s.observe("PutCheckpoint", start, err) }(time.Now())
	return s.checkpoints().PutCheckpoint(ctx, c)
}

func (s *measuredStore) GetCheckpoint(ctx context.Context, kind, id string) (c *store.Checkpoint, err error) {
	defer func(start time.Time) { s.observe("GetCheckpoint", start, err) }(time.Now())
	return s.checkpoints().GetCheckpoint(ctx, kind, id)
}

func (s *measuredStore) ListCheckpoints(ctx context.Context, kind string) (cs []*store.Checkpoint, err error) {
	defer func(start time.Time) { s.observe("ListCheckpoints", start, err) }(time.Now())
	return s.checkpoints().ListCheckpoints(ctx, kind)
}

func (s *measuredStore) DeleteCheckpoint(ctx context.Context, kind, id string) (err error) {
	defer func(start time.Time) { s.observe("DeleteCheckpoint", start, err) }(time.Now())
	return s.checkpoints().DeleteCheckpoint(ctx, kind, id)
}

// Watch and Watching are forwarded unmeasured: Watch lasts as long as
// the node, and the watch has metrics of its own (store_watch_*).
func (s *measuredStore) Watch(ctx context.Context, fn func(store.Change)) {
	s.Store.(store.Watcher).Watch(ctx, fn)
}

func (s *measuredStore) Watching() bool { return s.Store.(store.Watcher).Watching() }

// storeError is err unless it is the caller's callback's own error,
// passed through as it is.
func storeError(err error, fnFailed bool) error {
	if fnFailed {
		return nil
	}
	return err
}

var (
	_ store.Scanner     = (*measuredStore)(nil)
	_ store.Importer    = (*measuredStore)(nil)
	_ store.Transactor  = (*measuredStore)(nil)
	_ store.Registry    = (*measuredStore)(nil)
	_ store.Checkpoints = (*measuredStore)(nil)
	_ store.Watcher     = (*measuredStore)(nil)
)
