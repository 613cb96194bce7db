package metrics

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Store wraps st so that every call's latency and failures are measured.
func (m *Metrics) Store(st store.Store) store.Store { return &measuredStore{Store: st, m: m} }

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
// measured. The wrapper offers Random and Check whatever be offers: Random
// falls back to crypto/rand (as the operations do without a RandomSource),
// Check to an empty report.
func (m *Metrics) Backend(be backend.Backend) backend.Backend {
	if k, ok := be.(backend.KeyKeeper); ok { // keeper.go
		return &measuredKeeper{measuredBackend: measuredBackend{Backend: be, m: m}, keeper: k}
	}
	return &measuredBackend{Backend: be, m: m}
}

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
	if r, ok := b.Backend.(backend.RandomSource); ok {
		return r.Random(ctx, n)
	}
	out = make([]byte, n)
	_, err = rand.Read(out)
	return out, err
}

func (b *measuredBackend) Check(ctx context.Context) []backend.CheckResult {
	if c, ok := b.Backend.(backend.Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

var (
	_ store.Store          = (*measuredStore)(nil)
	_ backend.Backend      = (*measuredBackend)(nil)
	_ backend.RandomSource = (*measuredBackend)(nil)
	_ backend.Checker      = (*measuredBackend)(nil)
)
