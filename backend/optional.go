package backend

import (
	"reflect"

	"github.com/kmip-adapter/kmip-adapter/internal/optional"
)

// Optional lists every optional interface of this package: what callers
// discover on a Backend with a type assertion. A wrapper of a backend (a
// decorator that measures or logs calls) must offer exactly the ones the
// backend it wraps offers, or callers silently lose a capability (the
// lazy rewrap hook, the start-up check, kept keys). Narrow builds such a
// wrapper; a test fails when an interface declared here is missing from
// this list, and optional_gen.go is generated from it.
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

// Narrow returns a Backend that runs full's methods but offers, of the
// Optional interfaces, only those keep accepts: a type assertion for any
// other one fails. full must implement every interface keep accepts.
func Narrow(full Backend, keep func(reflect.Type) bool) Backend {
	return narrow(full, optional.Mask("backend.Narrow", full, Optional, keep))
}

// NarrowLike is Narrow keeping the optional interfaces that like has:
// the wrapper full of like then offers what like offers, no more, no
// less.
func NarrowLike(full, like Backend) Backend {
	return narrow(full, optional.MaskLike("backend.NarrowLike", full, like, Optional))
}
