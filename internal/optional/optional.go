// Package optional helps a package whose core interface has optional
// interfaces (found by callers with a type assertion) build wrappers that
// offer exactly a chosen subset of them: a decorator of a backend or a
// store must offer what the value it wraps offers, or callers silently
// lose a capability. The package keeps the list of its optional
// interfaces and a generated narrow function (one anonymous struct per
// subset, see optionaltest.Generate); Mask turns a choice into that
// function's bits.
package optional

import (
	"fmt"
	"reflect"
	"sync"
)

// Mask returns the bits, one per entry of list in order, of the
// interfaces keep accepts. full must implement each of them: Mask panics
// otherwise, naming who asked (a wrapper that claims an interface it
// cannot serve is a programming error).
func Mask(who string, full any, list []reflect.Type, keep func(reflect.Type) bool) uint {
	var mask uint
	for i, t := range list {
		if !keep(t) {
			continue
		}
		if !reflect.TypeOf(full).Implements(t) {
			panic(fmt.Sprintf("%s: %T does not implement %v", who, full, t))
		}
		mask |= 1 << i
	}
	return mask
}

// Like returns a keep function for Mask that accepts the interfaces like
// implements (none for a nil like).
func Like(like any) func(reflect.Type) bool {
	lt := reflect.TypeOf(like)
	return func(t reflect.Type) bool { return lt != nil && lt.Implements(t) }
}

// likeKey names a MaskLike answer: the types of full and like, and the
// list (by its first element's address and its length: each package has
// one).
type likeKey struct {
	full, like reflect.Type
	list       *reflect.Type
	n          int
}

// likeMasks caches MaskLike, which runs on every store transaction (the
// metrics decorator wraps each): the answer depends on the types only.
var likeMasks sync.Map // likeKey -> uint

// MaskLike is Mask keeping the interfaces like implements, cached by the
// types of full and like.
func MaskLike(who string, full, like any, list []reflect.Type) uint {
	if len(list) == 0 {
		return 0
	}
	k := likeKey{reflect.TypeOf(full), reflect.TypeOf(like), &list[0], len(list)}
	if m, ok := likeMasks.Load(k); ok {
		return m.(uint)
	}
	m := Mask(who, full, list, Like(like))
	likeMasks.Store(k, m)
	return m
}
