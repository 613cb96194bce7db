package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Store wraps st so that every call's latency and failures are measured.
// The wrapper offers exactly the optional interfaces of package store
// that st offers (store.NarrowLike): callers that look for a capability
// by type assertion (transactions, the client registry) find it, and are
// measured, through the wrapper when, and only when, st has it.
func (m *Metrics) Store(st store.Store) store.Store {
	return store.NarrowLike(&measuredStore{Store: st, m: m}, st)
}

// measuredStore implements every optional interface by forwarding to the
// wrapped store (store_optional.go); Store narrows it to what that store
// offers, so no method there runs unless the wrapped store has it.
type measuredStore struct {
	store.Store
	m *Metrics
}

func (s *measuredStore) observe(method string, start time.Time, err error) {
	s.m.storeLatency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrExists) {
		s.m.storeErrors.WithLabelValues(method).Inc()
	}
}

func (s *measuredStore) CreateObject(ctx context.Context, o *store.Object) (err error) {
	defer func(start time.Time) { s.observe("CreateObject", start, err) }(time.Now())
	return s.Store.CreateObject(ctx, o)
}

func (s *measuredStore) GetObject(ctx context.Context, tenantID, id string) (o *store.Object, err error) {
	defer func(start time.Time) { s.observe("GetObject", start, err) }(time.Now())
	return s.Store.GetObject(ctx, tenantID, id)
}

func (s *measuredStore) UpdateObject(ctx context.Context, o *store.Object) (err error) {
	defer func(start time.Time) { s.observe("UpdateObject", start, err) }(time.Now())
	return s.Store.UpdateObject(ctx, o)
}

func (s *measuredStore) DeleteObject(ctx context.Context, tenantID, id string) (err error) {
	defer func(start time.Time) { s.observe("DeleteObject", start, err) }(time.Now())
	return s.Store.DeleteObject(ctx, tenantID, id)
}

func (s *measuredStore) ListObjects(ctx context.Context, q store.ListQuery) (out []*store.Object, err error) {
	defer func(start time.Time) { s.observe("ListObjects", start, err) }(time.Now())
	return s.Store.ListObjects(ctx, q)
}

func (s *measuredStore) GetTenant(ctx context.Context, id string) (t *store.Tenant, err error) {
	defer func(start time.Time) { s.observe("GetTenant", start, err) }(time.Now())
	return s.Store.GetTenant(ctx, id)
}

func (s *measuredStore) PutTenant(ctx context.Context, t *store.Tenant) (err error) {
	defer func(start time.Time) { s.observe("PutTenant", start, err) }(time.Now())
	return s.Store.PutTenant(ctx, t)
}

// Backend wraps be so that every call's latency and failures are
// measured. The wrapper offers exactly the optional interfaces of package
// backend that be offers (backend.NarrowLike): callers that look for a
// capability by type assertion (the lazy rewrap hook, the start-up check,
// kept keys, the HSM's RNG) find it through the wrapper when, and only
// when, be has it.
func (m *Metrics) Backend(be backend.Backend) backend.Backend {
	return backend.NarrowLike(&measuredBackend{Backend: be, m: m}, be)
}

// measuredBackend implements every optional interface by forwarding to
// the wrapped backend; Backend narrows it to what that backend offers, so
// no method here runs unless the wrapped backend has it.
type measuredBackend struct {
	backend.Backend
	m *Metrics
}

func (b *measuredBackend) observe(method string, start time.Time, err error) {
	b.m.backendLatency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		b.m.backendErrors.WithLabelValues(method).Inc()
	}
}

func (b *measuredBackend) NewTenantKey(ctx context.Context, tenantID string) (k backend.TenantKey, err error) {
	defer func(start time.Time) { b.observe("NewTenantKey", start, err) }(time.Now())
	return b.Backend.NewTenantKey(ctx, tenantID)
}

func (b *measuredBackend) Seal(ctx context.Context, req backend.SealRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("Seal", start, err) }(time.Now())
	return b.Backend.Seal(ctx, req)
}

func (b *measuredBackend) Open(ctx context.Context, req backend.OpenRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("Open", start, err) }(time.Now())
	return b.Backend.Open(ctx, req)
}

func (b *measuredBackend) Random(ctx context.Context, n int) (out []byte, err error) {
	defer func(start time.Time) { b.observe("Random", start, err) }(time.Now())
	return b.Backend.(backend.RandomSource).Random(ctx, n)
}

// Check is not measured: it runs at start and in readiness probes, and
// reports its failures itself.
func (b *measuredBackend) Check(ctx context.Context) []backend.CheckResult {
	return b.Backend.(backend.Checker).Check(ctx)
}

// OnRewrap hands the hook to the wrapped backend.
func (b *measuredBackend) OnRewrap(f func(ctx context.Context, old, updated backend.TenantKey)) {
	b.Backend.(backend.RewrapNotifier).OnRewrap(f)
}

var (
	_ store.Store            = (*measuredStore)(nil)
	_ backend.Backend        = (*measuredBackend)(nil)
	_ backend.RandomSource   = (*measuredBackend)(nil)
	_ backend.Checker        = (*measuredBackend)(nil)
	_ backend.RewrapNotifier = (*measuredBackend)(nil)
)

// Ready is not measured: readiness probes call it every few seconds.
func (b *measuredBackend) Ready(ctx context.Context) error {
	return b.Backend.(backend.ReadyProber).Ready(ctx)
}

var _ backend.ReadyProber = (*measuredBackend)(nil)
