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
