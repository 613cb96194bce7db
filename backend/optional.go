package backend

import (
	"reflect"

	"github.com/kmip-adapter/kmip-adapter/internal/optional"
)

// Optional lists every optional interface of this package: what callers
// find on a Backend with As. A test fails when an interface declared here
// is missing from this list, or found with a type assertion; the metrics
// decorator's test checks each one against it.
var Optional = []reflect.Type{
	reflect.TypeFor[RandomSource](),
	reflect.TypeFor[Checker](),
	reflect.TypeFor[RewrapNotifier](),
	reflect.TypeFor[KeyKeeper](),
	reflect.TypeFor[KeepChecker](),
	reflect.TypeFor[ReadyProber](),
	reflect.TypeFor[TransportImporter](),
	reflect.TypeFor[RecordMACer](),
	reflect.TypeFor[KeyPairGenerator](),
}

// As returns b as the optional interface T (one of Optional) when b
// offers it, in the manner of errors.As: b itself when it implements T,
// else, for a decorator (a backend with an Unwrap() Backend method, such
// as the metrics one), the decorator's own implementation of T (its
// As(target any) bool method, which measures the calls) or else what it
// wraps, and so on down. A decorator thus offers exactly what the backend
// it wraps offers, and callers must use As rather than a type assertion,
// which a decorator would fail.
//
// A Router is not a decorator: it offers every optional interface and
// sends each call to the backend of the tenant's key.
func As[T any](b Backend) (T, bool) { return optional.As[T](b) }
