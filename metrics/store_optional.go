package metrics

import (
	"context"
	"time"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// The optional calls of a measured store, measured as the core calls
// are, under their method name: measuredStore.As hands out these
// implementations when the wrapped store has the interface.

// measuredScanner is the measured store.Scanner.
type measuredScanner struct {
	m  *Metrics
	in store.Scanner
}

func (s measuredScanner) TenantIDs(ctx context.Context) (ids []string, err error) {
	defer func(start time.Time) { s.m.observeStore("TenantIDs", start, err) }(time.Now())
	return s.in.TenantIDs(ctx)
}

// ScanObjects is measured whole (fn's time included); an error of fn's,
// which ScanObjects returns as it is, is not counted as the store's.
func (s measuredScanner) ScanObjects(ctx context.Context, tenantID, afterID string, fn func(*store.Object) error) (err error) {
	var fnFailed bool
	defer func(start time.Time) { s.m.observeStore("ScanObjects", start, storeError(err, fnFailed)) }(time.Now())
	return s.in.ScanObjects(ctx, tenantID, afterID, func(o *store.Object) error {
		err := fn(o)
		fnFailed = err != nil
		return err
	})
}

// measuredImporter is the measured store.Importer.
type measuredImporter struct {
	m  *Metrics
	in store.Importer
}

func (s measuredImporter) ImportTenant(ctx context.Context, t *store.Tenant) (err error) {
	defer func(start time.Time) { s.m.observeStore("ImportTenant", start, err) }(time.Now())
	return s.in.ImportTenant(ctx, t)
}

func (s measuredImporter) ImportObjects(ctx context.Context, objs []*store.Object) (present []*store.Object, err error) {
	defer func(start time.Time) { s.m.observeStore("ImportObjects", start, err) }(time.Now())
	return s.in.ImportObjects(ctx, objs)
}

// measuredTransactor is the measured store.Transactor.
type measuredTransactor struct {
	m  *Metrics
	in store.Transactor
}

// Update is measured whole (fn's time included, commit too), and the
// calls fn makes on the transaction are measured as the same calls
// outside one. An error of fn's, which Update returns as it is, is not
// counted as the store's.
func (s measuredTransactor) Update(ctx context.Context, fn func(tx store.Store) error) (err error) {
	var fnFailed bool
	defer func(start time.Time) { s.m.observeStore("Update", start, storeError(err, fnFailed)) }(time.Now())
	return s.in.Update(ctx, func(tx store.Store) error {
		err := fn(s.m.Store(tx))
		fnFailed = err != nil
		return err
	})
}

// measuredRegistry is the measured store.Registry.
type measuredRegistry struct {
	m  *Metrics
	in store.Registry
}

func (s measuredRegistry) ListTenants(ctx context.Context) (ts []*store.Tenant, err error) {
	defer func(start time.Time) { s.m.observeStore("ListTenants", start, err) }(time.Now())
	return s.in.ListTenants(ctx)
}

func (s measuredRegistry) DeleteTenant(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { s.m.observeStore("DeleteTenant", start, err) }(time.Now())
	return s.in.DeleteTenant(ctx, id)
}

func (s measuredRegistry) PutClient(ctx context.Context, c *store.Client) (err error) {
	defer func(start time.Time) { s.m.observeStore("PutClient", start, err) }(time.Now())
	return s.in.PutClient(ctx, c)
}

func (s measuredRegistry) GetClient(ctx context.Context, tenantID, name string) (c *store.Client, err error) {
	defer func(start time.Time) { s.m.observeStore("GetClient", start, err) }(time.Now())
	return s.in.GetClient(ctx, tenantID, name)
}

func (s measuredRegistry) ListClients(ctx context.Context, tenantID string) (cs []*store.Client, err error) {
	defer func(start time.Time) { s.m.observeStore("ListClients", start, err) }(time.Now())
	return s.in.ListClients(ctx, tenantID)
}

func (s measuredRegistry) DeleteClient(ctx context.Context, tenantID, name string) (err error) {
	defer func(start time.Time) { s.m.observeStore("DeleteClient", start, err) }(time.Now())
	return s.in.DeleteClient(ctx, tenantID, name)
}

func (s measuredRegistry) RegistrySerial(ctx context.Context) (serial uint64, err error) {
	defer func(start time.Time) { s.m.observeStore("RegistrySerial", start, err) }(time.Now())
	return s.in.RegistrySerial(ctx)
}

// measuredCheckpoints is the measured store.Checkpoints.
type measuredCheckpoints struct {
	m  *Metrics
	in store.Checkpoints
}

func (s measuredCheckpoints) PutCheckpoint(ctx context.Context, c *store.Checkpoint) (err error) {
	defer func(start time.Time) { s.m.observeStore("PutCheckpoint", start, err) }(time.Now())
	return s.in.PutCheckpoint(ctx, c)
}

func (s measuredCheckpoints) GetCheckpoint(ctx context.Context, kind, id string) (c *store.Checkpoint, err error) {
	defer func(start time.Time) { s.m.observeStore("GetCheckpoint", start, err) }(time.Now())
	return s.in.GetCheckpoint(ctx, kind, id)
}

func (s measuredCheckpoints) ListCheckpoints(ctx context.Context, kind string) (cs []*store.Checkpoint, err error) {
	defer func(start time.Time) { s.m.observeStore("ListCheckpoints", start, err) }(time.Now())
	return s.in.ListCheckpoints(ctx, kind)
}

func (s measuredCheckpoints) DeleteCheckpoint(ctx context.Context, kind, id string) (err error) {
	defer func(start time.Time) { s.m.observeStore("DeleteCheckpoint", start, err) }(time.Now())
	return s.in.DeleteCheckpoint(ctx, kind, id)
}

// storeError is err unless it is the caller's callback's own error,
// passed through as it is.
func storeError(err error, fnFailed bool) error {
	if fnFailed {
		return nil
	}
	return err
}

var (
	_ store.Scanner     = measuredScanner{}
	_ store.Importer    = measuredImporter{}
	_ store.Transactor  = measuredTransactor{}
	_ store.Registry    = measuredRegistry{}
	_ store.Checkpoints = measuredCheckpoints{}
)
