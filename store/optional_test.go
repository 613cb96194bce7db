package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/internal/optional/optionaltest"
)

var optionalPackage = optionaltest.Package{Dir: "store", Name: "store", Core: "Store", Optional: Optional}

// TestOptionalListsEveryInterface: every exported interface declared in
// this package, except Store itself, is in Optional, so that a new
// optional interface cannot be forgotten by the wrappers.
func TestOptionalListsEveryInterface(t *testing.T) { optionalPackage.CheckListed(t) }

// TestOptionalGenerated: optional_gen.go matches Optional.
func TestOptionalGenerated(t *testing.T) { optionalPackage.CheckGenerated(t) }

// TestNarrow: for every subset of Optional, the narrowed store offers
// exactly that subset, and runs the full store's methods.
func TestNarrow(t *testing.T) {
	full := &allOptional{}
	optionalPackage.CheckSubsets(t,
		func(keep func(reflect.Type) bool) any { return Narrow(full, keep) },
		func(like any) any { return NarrowLike(full, like.(Store)) })
	ns := Narrow(full, func(reflect.Type) bool { return false })
	_, err := ns.GetTenant(t.Context(), "t1")
	assert.NoError(t, err)
	assert.Equal(t, 1, full.gets)
	assert.Panics(t, func() { Narrow(struct{ Store }{}, func(reflect.Type) bool { return true }) })
}

// allOptional implements Store and every optional interface, for
// TestNarrow; only GetTenant runs.
type allOptional struct {
	Store
	Scanner
	Importer
	Transactor
	Registry
	Checkpoints
	Watcher
	gets int
}

func (a *allOptional) GetTenant(context.Context, string) (*Tenant, error) {
	a.gets++
	return &Tenant{}, nil
}
