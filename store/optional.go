package store

import (
	"reflect"

	"github.com/kmip-adapter/kmip-adapter/internal/optional"
)

// Optional lists every optional interface of this package: what callers
// discover on a Store with a type assertion. A wrapper of a store (the
// metrics decorator) must offer exactly the ones the store it wraps
// offers, or callers silently lose a capability (transactions, the
// client registry, migration). Narrow builds such a wrapper; a test fails
// when an interface declared here is missing from this list, and
// optional_gen.go is generated from it.
var Optional = []reflect.Type{
	reflect.TypeFor[Scanner](),
	reflect.TypeFor[Importer](),
	reflect.TypeFor[Transactor](),
	reflect.TypeFor[Registry](),
	reflect.TypeFor[Checkpoints](),
	reflect.TypeFor[Watcher](),
}

// Narrow returns a Store that runs full's methods but offers, of the
// Optional interfaces, only those keep accepts: a type assertion for any
// other one fails. full must implement every interface keep accepts.
func Narrow(full Store, keep func(reflect.Type) bool) Store {
	return narrow(full, optional.Mask("store.Narrow", full, Optional, keep))
}

// NarrowLike is Narrow keeping the optional interfaces that like has:
// the wrapper full of like then offers what like offers, no more, no
// less.
func NarrowLike(full, like Store) Store {
	return narrow(full, optional.MaskLike("store.NarrowLike", full, like, Optional))
}
