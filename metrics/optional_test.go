package metrics

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// optionalCase is how the tests below treat one optional interface: how
// to find it (As of its package, for that interface) and whether the
// decorator measures its calls (else it is found, unmeasured, in what
// the decorator wraps).
type optionalCase[V any] struct {
	find     func(V) (any, bool)
	measured bool
}

func find[T any, V any](as func(V) (T, bool)) func(V) (any, bool) {
	return func(v V) (any, bool) { return as(v) }
}

// backendOptional is every optional interface of package backend (a
// test below fails on one missing: add it, measured or not, and make the
// decorator's As answer for it when measured).
var backendOptional = map[reflect.Type]optionalCase[backend.Backend]{
	reflect.TypeFor[backend.RandomSource]():      {find(backend.As[backend.RandomSource]), true},
	reflect.TypeFor[backend.Checker]():           {find(backend.As[backend.Checker]), false},
	reflect.TypeFor[backend.RewrapNotifier]():    {find(backend.As[backend.RewrapNotifier]), false},
	reflect.TypeFor[backend.KeyKeeper]():         {find(backend.As[backend.KeyKeeper]), true},
	reflect.TypeFor[backend.KeepChecker]():       {find(backend.As[backend.KeepChecker]), false},
	reflect.TypeFor[backend.ReadyProber]():       {find(backend.As[backend.ReadyProber]), false},
	reflect.TypeFor[backend.TransportImporter](): {find(backend.As[backend.TransportImporter]), true},
	reflect.TypeFor[backend.RecordMACer]():       {find(backend.As[backend.RecordMACer]), true},
	reflect.TypeFor[backend.KeyPairGenerator]():  {find(backend.As[backend.KeyPairGenerator]), true},
}

// storeOptional is every optional interface of package store.
var storeOptional = map[reflect.Type]optionalCase[store.Store]{
	reflect.TypeFor[store.Scanner]():     {find(store.As[store.Scanner]), true},
	reflect.TypeFor[store.Importer]():    {find(store.As[store.Importer]), true},
	reflect.TypeFor[store.Transactor]():  {find(store.As[store.Transactor]), true},
	reflect.TypeFor[store.Registry]():    {find(store.As[store.Registry]), true},
	reflect.TypeFor[store.Checkpoints](): {find(store.As[store.Checkpoints]), true},
	reflect.TypeFor[store.Watcher]():     {find(store.As[store.Watcher]), false},
}

// TestOptionalCasesListEveryInterface: the tables above cover the lists
// that packages backend and store keep of their optional interfaces
// (which their own tests check against their declarations).
func TestOptionalCasesListEveryInterface(t *testing.T) {
	assert.ElementsMatch(t, backend.Optional, keys(backendOptional), "backendOptional must list every backend.Optional interface")
	assert.ElementsMatch(t, store.Optional, keys(storeOptional), "storeOptional must list every store.Optional interface")
}

func keys[V any](m map[reflect.Type]V) []reflect.Type {
	out := make([]reflect.Type, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// offeringBackend offers, of full's optional interfaces, those keep
// accepts: it answers As for them and has no Unwrap, so that the others
// are out of reach.
type offeringBackend struct {
	backend.Backend
	full any
	keep func(reflect.Type) bool
}

func (o offeringBackend) As(target any) bool { return offer(o.full, target, o.keep) }

// offeringStore is offeringBackend for a store.
type offeringStore struct {
	store.Store
	full any
	keep func(reflect.Type) bool
}

func (o offeringStore) As(target any) bool { return offer(o.full, target, o.keep) }

// offer sets *target (a pointer to an optional interface) to full when
// keep accepts the interface.
func offer(full, target any, keep func(reflect.Type) bool) bool {
	p := reflect.ValueOf(target).Elem()
	if !keep(p.Type()) {
		return false
	}
	p.Set(reflect.ValueOf(full))
	return true
}

// subsets calls fn with keep functions for every subset of list.
func subsets(list []reflect.Type, fn func(mask int, keep func(reflect.Type) bool)) {
	for mask := 0; mask < 1<<len(list); mask++ {
		fn(mask, func(it reflect.Type) bool {
			for i, o := range list {
				if o == it {
					return mask&(1<<i) != 0
				}
			}
			return false
		})
	}
}

// TestBackendOffersExactlyWhatItWraps: for every subset of the optional
// interfaces, the measured backend (once or twice) offers exactly those
// of the backend it wraps, and implements none itself (so a type
// assertion, which As would trust, cannot claim one the wrapped backend
// lacks).
func TestBackendOffersExactlyWhatItWraps(t *testing.T) {
	m := New("test")
	full := &everything{}
	for _, it := range backend.Optional {
		require.True(t, reflect.TypeOf(full).Implements(it), "the test backend lacks %v: add it to everything", it)
	}
	subsets(backend.Optional, func(mask int, keep func(reflect.Type) bool) {
		inner := offeringBackend{Backend: full, full: full, keep: keep}
		for _, measured := range []backend.Backend{m.Backend(inner), m.Backend(m.Backend(inner))} {
			for it, c := range backendOptional {
				_, ok := c.find(measured)
				assert.Equal(t, keep(it), ok, "wrapping a backend with subset %09b: %v", mask, it)
				assert.False(t, reflect.TypeOf(measured).Implements(it), "the decorator implements %v itself", it)
			}
		}
	})
}

// TestStoreOffersExactlyWhatItWraps: the same for the measured store.
func TestStoreOffersExactlyWhatItWraps(t *testing.T) {
	m := New("test")
	full := openBolt(t)
	for _, it := range store.Optional {
		require.True(t, reflect.TypeOf(full).Implements(it), "the test store lacks %v: add it to importingBolt", it)
	}
	subsets(store.Optional, func(mask int, keep func(reflect.Type) bool) {
		inner := offeringStore{Store: full, full: full, keep: keep}
		for _, measured := range []store.Store{m.Store(inner), m.Store(m.Store(inner))} {
			for it, c := range storeOptional {
				_, ok := c.find(measured)
				assert.Equal(t, keep(it), ok, "wrapping a store with subset %06b: %v", mask, it)
				assert.False(t, reflect.TypeOf(measured).Implements(it), "the decorator implements %v itself", it)
			}
		}
	})
}

// TestBackendMeasuresEveryCall: every method of the core interface (but
// Close) and of every measured optional interface reaches the wrapped
// backend and is measured under its name; the unmeasured interfaces are
// the wrapped backend's own.
func TestBackendMeasuresEveryCall(t *testing.T) {
	m := New("test")
	full := &everything{}
	be := m.Backend(full)
	want := callEvery(t, be, reflect.TypeFor[backend.Backend]())
	for it, c := range backendOptional {
		v, ok := c.find(be)
		require.True(t, ok, "%v", it)
		if !c.measured {
			assert.Equal(t, any(full), v, "%v is found unmeasured in the wrapped backend", it)
			continue
		}
		want = append(want, callEvery(t, v, it)...)
	}
	assert.ElementsMatch(t, want, full.calls, "every call reached the wrapped backend")
	assert.Equal(t, ones(want), measuredCalls(t, m, "kmip_adapter_root_of_trust_call_duration_seconds"))
}

// TestStoreMeasuresEveryCall: the same for the measured store.
func TestStoreMeasuresEveryCall(t *testing.T) {
	m := New("test")
	full := openBolt(t)
	st := m.Store(full)
	want := callEvery(t, st, reflect.TypeFor[store.Store]())
	for it, c := range storeOptional {
		v, ok := c.find(st)
		require.True(t, ok, "%v", it)
		if !c.measured {
			assert.Equal(t, any(full), v, "%v is found unmeasured in the wrapped store", it)
			continue
		}
		want = append(want, callEvery(t, v, it)...)
	}
	calls, _ := storeCalls(t, m)
	assert.Equal(t, ones(want), calls)
}

// callEvery calls each method of the interface it on v (but Close), with
// a context, empty requests and callbacks that return zero values, and
// returns the methods' names. Failures are not the point: they are
// measured too.
func callEvery(t *testing.T, v any, it reflect.Type) []string {
	t.Helper()
	var names []string
	rv := reflect.ValueOf(v)
	for i := range it.NumMethod() {
		method := it.Method(i)
		if method.Name == "Close" {
			continue
		}
		f := rv.MethodByName(method.Name)
		args := make([]reflect.Value, f.Type().NumIn())
		for j := range args {
			args[j] = argument(t, f.Type().In(j))
		}
		f.Call(args)
		names = append(names, method.Name)
	}
	return names
}

// argument is a value of type at for callEvery.
func argument(t *testing.T, at reflect.Type) reflect.Value {
	switch {
	case at == reflect.TypeFor[context.Context]():
		return reflect.ValueOf(t.Context())
	case at.Kind() == reflect.Func:
		return reflect.MakeFunc(at, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, at.NumOut())
			for i := range out {
				out[i] = reflect.Zero(at.Out(i))
			}
			return out
		})
	case at.Kind() == reflect.Pointer:
		return reflect.New(at.Elem())
	}
	return reflect.Zero(at)
}

func ones(names []string) map[string]float64 {
	out := map[string]float64{}
	for _, n := range names {
		out[n]++
	}
	return out
}

// measuredCalls returns the sample counts of histogram family, by
// method.
func measuredCalls(t *testing.T, m *Metrics, family string) map[string]float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	require.NoError(t, err)
	calls := map[string]float64{}
	for _, f := range families {
		if f.GetName() != family {
			continue
		}
		for _, s := range f.GetMetric() {
			calls[s.GetLabel()[0].GetValue()] = float64(s.GetHistogram().GetSampleCount())
		}
	}
	return calls
}

// The core calls of the test backend everything (keeper_test.go).

func (e *everything) NewTenantKey(context.Context, string) (backend.TenantKey, error) {
	e.calls = append(e.calls, "NewTenantKey")
	return backend.TenantKey{}, nil
}

func (e *everything) Seal(context.Context, backend.SealRequest) ([]byte, error) {
	e.calls = append(e.calls, "Seal")
	return nil, nil
}

func (e *everything) Open(context.Context, backend.OpenRequest) ([]byte, error) {
	e.calls = append(e.calls, "Open")
	return nil, backend.ErrIntegrity
}
