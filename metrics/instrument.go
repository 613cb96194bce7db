package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/internal/optional"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Store wraps st so that every call's latency and failures are measured.
// The wrapper offers exactly the optional interfaces of package store
// that st offers: callers find them with store.As, through the wrapper's
// Unwrap and As methods, and those whose calls are measured
// (store_optional.go) are measured too.
func (m *Metrics) Store(st store.Store) store.Store {
	return &measuredStore{Store: st, m: m}
}

// measuredStore measures the core calls. It implements no optional
// interface itself (a type assertion for one fails): store.As asks As,
// then what it wraps.
type measuredStore struct {
	store.Store
	m *Metrics
}

// Unwrap returns the wrapped store, for store.As.
func (s *measuredStore) Unwrap() store.Store { return s.Store }

// As sets *target to a measured implementation of the optional interface
// it points to when the wrapped store offers it (store_optional.go).
// Watcher is not measured (Watch lasts as long as the node, and the watch
// has metrics of its own, store_watch_*): store.As finds it below.
func (s *measuredStore) As(target any) bool {
	switch p := target.(type) {
	case *store.Scanner:
		return answer(p, s.Store, func(in store.Scanner) store.Scanner { return measuredScanner{s.m, in} })
	case *store.Importer:
		return answer(p, s.Store, func(in store.Importer) store.Importer { return measuredImporter{s.m, in} })
	case *store.Transactor:
		return answer(p, s.Store, func(in store.Transactor) store.Transactor { return measuredTransactor{s.m, in} })
	case *store.Registry:
		return answer(p, s.Store, func(in store.Registry) store.Registry { return measuredRegistry{s.m, in} })
	case *store.Checkpoints:
		return answer(p, s.Store, func(in store.Checkpoints) store.Checkpoints { return measuredCheckpoints{s.m, in} })
	}
	return false
}

// answer sets *target to measured(in) when inner (a store or a backend)
// offers the interface T as in (what store.As or backend.As finds), and
// reports whether it does.
func answer[T, V any](target *T, inner V, measured func(in T) T) bool {
	in, ok := optional.As[T](inner)
	if ok {
		*target = measured(in)
	}
	return ok
}

// observeStore records a store call. Not found, conflicts and existing
// records are answers, not failures.
func (m *Metrics) observeStore(method string, start time.Time, err error) {
	m.storeObserver(method).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrExists) {
		m.storeErrors.WithLabelValues(method).Inc()
	}
}

func (s *measuredStore) CreateObject(ctx context.Context, o *store.Object) (err error) {
	defer func(start time.Time) { s.m.observeStore("CreateObject", start, err) }(time.Now())
	return s.Store.CreateObject(ctx, o)
}

func (s *measuredStore) GetObject(ctx context.Context, tenantID, id string) (o *store.Object, err error) {
	defer func(start time.Time) { s.m.observeStore("GetObject", start, err) }(time.Now())
	return s.Store.GetObject(ctx, tenantID, id)
}

func (s *measuredStore) UpdateObject(ctx context.Context, o *store.Object) (err error) {
	defer func(start time.Time) { s.m.observeStore("UpdateObject", start, err) }(time.Now())
	return s.Store.UpdateObject(ctx, o)
}

func (s *measuredStore) DeleteObject(ctx context.Context, tenantID, id string) (err error) {
	defer func(start time.Time) { s.m.observeStore("DeleteObject", start, err) }(time.Now())
	return s.Store.DeleteObject(ctx, tenantID, id)
}

func (s *measuredStore) ListObjects(ctx context.Context, q store.ListQuery) (out []*store.Object, err error) {
	defer func(start time.Time) { s.m.observeStore("ListObjects", start, err) }(time.Now())
	return s.Store.ListObjects(ctx, q)
}

func (s *measuredStore) CountObjects(ctx context.Context, q store.ListQuery) (n int, err error) {
	defer func(start time.Time) { s.m.observeStore("CountObjects", start, err) }(time.Now())
	return s.Store.CountObjects(ctx, q)
}

func (s *measuredStore) GetTenant(ctx context.Context, id string) (t *store.Tenant, err error) {
	defer func(start time.Time) { s.m.observeStore("GetTenant", start, err) }(time.Now())
	return s.Store.GetTenant(ctx, id)
}

func (s *measuredStore) PutTenant(ctx context.Context, t *store.Tenant) (err error) {
	defer func(start time.Time) { s.m.observeStore("PutTenant", start, err) }(time.Now())
	return s.Store.PutTenant(ctx, t)
}

// Backend wraps be so that every call's latency and failures are
// measured. The wrapper offers exactly the optional interfaces of package
// backend that be offers: callers find them with backend.As (the lazy
// rewrap hook, the start-up check, kept keys, the HSM's RNG), through the
// wrapper's Unwrap and As methods, and those whose calls are measured are
// measured too.
func (m *Metrics) Backend(be backend.Backend) backend.Backend {
	return &measuredBackend{Backend: be, m: m}
}

// measuredBackend measures the core calls. It implements no optional
// interface itself (a type assertion for one fails): backend.As asks As,
// then what it wraps.
type measuredBackend struct {
	backend.Backend
	m *Metrics
}

// Unwrap returns the wrapped backend, for backend.As.
func (b *measuredBackend) Unwrap() backend.Backend { return b.Backend }

// As sets *target to a measured implementation of the optional interface
// it points to when the wrapped backend offers it. The others are not
// measured, and backend.As finds them below: Check runs at start and in
// readiness probes and reports its failures itself, Ready is called by
// readiness probes every few seconds, OnRewrap only hands over a hook,
// CanKeep only looks at the tenant key.
func (b *measuredBackend) As(target any) bool {
	switch p := target.(type) {
	case *backend.RandomSource:
		return answer(p, b.Backend, func(in backend.RandomSource) backend.RandomSource { return measuredRandom{b.m, in} })
	case *backend.KeyKeeper:
		return answer(p, b.Backend, func(in backend.KeyKeeper) backend.KeyKeeper { return measuredKeeper{b.m, in} })
	case *backend.TransportImporter:
		return answer(p, b.Backend, func(in backend.TransportImporter) backend.TransportImporter {
			return measuredTransportImporter{b.m, in}
		})
	case *backend.RecordMACer:
		return answer(p, b.Backend, func(in backend.RecordMACer) backend.RecordMACer { return measuredMACer{b.m, in} })
	case *backend.KeyPairGenerator:
		return answer(p, b.Backend, func(in backend.KeyPairGenerator) backend.KeyPairGenerator {
			return measuredKeyPairGenerator{b.m, in}
		})
	}
	return false
}

// observeBackend records a backend call; a cancelled call is not a
// failure.
func (m *Metrics) observeBackend(method string, start time.Time, err error) {
	m.backendObserver(method).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		m.backendErrors.WithLabelValues(method).Inc()
	}
}

func (b *measuredBackend) NewTenantKey(ctx context.Context, tenantID string) (k backend.TenantKey, err error) {
	defer func(start time.Time) { b.m.observeBackend("NewTenantKey", start, err) }(time.Now())
	return b.Backend.NewTenantKey(ctx, tenantID)
}

func (b *measuredBackend) Seal(ctx context.Context, req backend.SealRequest) (out []byte, err error) {
	defer func(start time.Time) { b.m.observeBackend("Seal", start, err) }(time.Now())
	return b.Backend.Seal(ctx, req)
}

func (b *measuredBackend) Open(ctx context.Context, req backend.OpenRequest) (out []byte, err error) {
	defer func(start time.Time) { b.m.observeBackend("Open", start, err) }(time.Now())
	return b.Backend.Open(ctx, req)
}

// measuredRandom is the measured backend.RandomSource.
type measuredRandom struct {
	m  *Metrics
	in backend.RandomSource
}

func (r measuredRandom) Random(ctx context.Context, n int) (out []byte, err error) {
	defer func(start time.Time) { r.m.observeBackend("Random", start, err) }(time.Now())
	return r.in.Random(ctx, n)
}

var (
	_ store.Store     = (*measuredStore)(nil)
	_ backend.Backend = (*measuredBackend)(nil)
)
