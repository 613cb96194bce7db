// Package optional is the capability lookup of packages whose core
// interface has optional interfaces (backend.Backend, store.Store), in
// the manner of errors.As and http.ResponseController: a caller asks for
// an optional interface with the package's As, which looks at the value
// and then down the chain of decorators it wraps.
//
// A decorator (the metrics one) implements Unwrap, returning the value it
// wraps, and no optional interface itself. For an optional interface
// whose calls it measures it implements As(target any) bool: it sets
// *target to its own implementation when the value it wraps offers the
// interface. Every other interface is found below it. So a decorator
// offers exactly what it wraps, whatever the number of optional
// interfaces, and a capability the wrapped value lacks stays absent.
package optional

// asker is a decorator that answers for some optional interfaces itself
// (as errors.As: target is a non-nil pointer to an interface).
type asker interface {
	As(target any) bool
}

// As returns v as the optional interface T: v itself when it implements
// T or answers for T (an As method), else what v wraps (an Unwrap method
// returning V), and so on down the chain. It reports false when no value
// of the chain offers T.
func As[T, V any](v V) (T, bool) {
	for {
		x := any(v)
		if x == nil {
			break
		}
		if t, ok := x.(T); ok {
			return t, true
		}
		if a, ok := x.(asker); ok {
			var t T
			if a.As(&t) {
				return t, true
			}
		}
		u, ok := x.(interface{ Unwrap() V })
		if !ok {
			break
		}
		v = u.Unwrap()
	}
	var zero T
	return zero, false
}
