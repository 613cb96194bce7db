package backend

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/internal/optional/optionaltest"
)

var optionalPackage = optionaltest.Package{Dir: "backend", Name: "backend", Core: "Backend", Optional: Optional}

// TestOptionalListsEveryInterface: every exported interface declared in
// this package, except Backend itself, is in Optional, so that a new
// optional interface cannot be forgotten by the wrappers.
func TestOptionalListsEveryInterface(t *testing.T) { optionalPackage.CheckListed(t) }

// TestOptionalGenerated: optional_gen.go matches Optional.
func TestOptionalGenerated(t *testing.T) { optionalPackage.CheckGenerated(t) }

// TestNarrow: for every subset of Optional, the narrowed backend offers
// exactly that subset, and runs the full backend's methods.
func TestNarrow(t *testing.T) {
	full := &allOptional{}
	optionalPackage.CheckSubsets(t,
		func(keep func(reflect.Type) bool) any { return Narrow(full, keep) },
		func(like any) any { return NarrowLike(full, like.(Backend)) })
	nb := Narrow(full, func(reflect.Type) bool { return false })
	_, err := nb.NewTenantKey(t.Context(), "t1")
	assert.NoError(t, err)
	assert.Equal(t, 1, full.newKeys)
	assert.Panics(t, func() { Narrow(struct{ Backend }{}, func(reflect.Type) bool { return true }) })
}

// allOptional implements Backend and every optional interface (through
// the Router's methods over no backends), for TestNarrow.
type allOptional struct {
	Router
	newKeys int
}

func (a *allOptional) NewTenantKey(context.Context, string) (TenantKey, error) {
	a.newKeys++
	return TenantKey{}, nil
}
