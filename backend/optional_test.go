package backend

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/internal/optional/optionaltest"
)

var optionalPackage = optionaltest.Package{Dir: "backend", Name: "backend", Core: "Backend", Optional: Optional}

// TestOptionalListsEveryInterface: every exported interface declared in
// this package, except Backend itself, is in Optional, so that a new
// optional interface cannot be forgotten by the decorators' tests.
func TestOptionalListsEveryInterface(t *testing.T) { optionalPackage.CheckListed(t) }

// TestOptionalFoundWithAs: no code of the module finds an optional
// interface with a type assertion, which a decorator would fail.
func TestOptionalFoundWithAs(t *testing.T) { optionalPackage.CheckNoAssertions(t) }

// plain offers no optional interface.
type plain struct{ Backend }

// random offers RandomSource.
type random struct {
	plain
	n int
}

func (r *random) Random(_ context.Context, n int) ([]byte, error) {
	r.n++
	return make([]byte, n), nil
}

// wrapper is a decorator that answers for no optional interface itself.
type wrapper struct{ Backend }

func (w wrapper) Unwrap() Backend { return w.Backend }

// TestAs: As finds an optional interface on the backend and through
// decorators, and not where the backend lacks it.
func TestAs(t *testing.T) {
	r := &random{}
	for _, tc := range []struct {
		name string
		b    Backend
		want bool
	}{
		{"nil", nil, false},
		{"without", plain{}, false},
		{"with", r, true},
		{"decorated", wrapper{wrapper{r}}, true},
		{"decorated, without", wrapper{plain{}}, false},
		{"embedded without Unwrap hides it", plain{r}, false},
		{"Router", &Router{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, ok := As[RandomSource](tc.b)
			assert.Equal(t, tc.want, ok)
			if ok {
				_, err := rs.Random(t.Context(), 1)
				assert.NoError(t, err)
			}
		})
	}
	assert.Equal(t, 2, r.n, "the backend's own Random ran")
}
