package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/internal/optional/optionaltest"
)

var optionalPackage = optionaltest.Package{Dir: "store", Name: "store", Core: "Store", Optional: Optional}

// TestOptionalListsEveryInterface: every exported interface declared in
// this package, except Store itself, is in Optional, so that a new
// optional interface cannot be forgotten by the decorators' tests.
func TestOptionalListsEveryInterface(t *testing.T) { optionalPackage.CheckListed(t) }

// TestOptionalFoundWithAs: no code of the module finds an optional
// interface with a type assertion, which a decorator would fail.
func TestOptionalFoundWithAs(t *testing.T) { optionalPackage.CheckNoAssertions(t) }

// plain offers no optional interface.
type plain struct{ Store }

// watching offers Watcher.
type watching struct{ plain }

func (watching) Watch(context.Context, func(Change)) {}
func (watching) Watching() bool                      { return true }

// wrapper is a decorator that answers for no optional interface itself.
type wrapper struct{ Store }

func (w wrapper) Unwrap() Store { return w.Store }

// TestAs: As finds an optional interface on the store and through
// decorators, and not where the store lacks it.
func TestAs(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Store
		want bool
	}{
		{"nil", nil, false},
		{"without", plain{}, false},
		{"with", watching{}, true},
		{"decorated", wrapper{wrapper{watching{}}}, true},
		{"decorated, without", wrapper{plain{}}, false},
		{"embedded without Unwrap hides it", plain{watching{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := As[Watcher](tc.s)
			assert.Equal(t, tc.want, ok)
			if ok {
				assert.True(t, w.Watching())
			}
		})
	}
}
