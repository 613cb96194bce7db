package store

import (
	"reflect"

	"github.com/kmip-adapter/kmip-adapter/internal/optional"
)

// Optional lists every optional interface of this package: what callers
// find on a Store with As. A test fails when an interface declared here
// is missing from this list, or found with a type assertion; the metrics
// decorator's test checks each one against it.
var Optional = []reflect.Type{
	reflect.TypeFor[Scanner](),
	reflect.TypeFor[Importer](),
	reflect.TypeFor[Transactor](),
	reflect.TypeFor[Registry](),
	reflect.TypeFor[Checkpoints](),
	reflect.TypeFor[Watcher](),
}

// As returns s as the optional interface T (one of Optional) when s
// offers it, in the manner of errors.As: s itself when it implements T,
// else, for a decorator (a store with an Unwrap() Store method, such as
// the metrics one), the decorator's own implementation of T (its
// As(target any) bool method, which measures the calls) or else what it
// wraps, and so on down. A decorator thus offers exactly what the store
// it wraps offers, and callers must use As rather than a type assertion,
// which a decorator would fail.
func As[T any](s Store) (T, bool) { return optional.As[T](s) }
