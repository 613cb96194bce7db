package optional

import (
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// core is the core interface of the test chain, io.Reader and
// fmt.Stringer its optional interfaces.
type core interface{ Close() error }

type plain struct{}

func (plain) Close() error { return nil }

type reading struct{ plain }

func (reading) Read([]byte) (int, error) { return 0, io.EOF }

// decorator wraps a core value and answers for io.Reader itself.
type decorator struct{ inner core }

func (d decorator) Close() error { return d.inner.Close() }
func (d decorator) Unwrap() core { return d.inner }

func (d decorator) As(target any) bool {
	if p, ok := target.(*io.Reader); ok {
		r, ok := As[io.Reader](d.inner)
		if ok {
			*p = decorated{r}
		}
		return ok
	}
	return false
}

type decorated struct{ io.Reader }

// hiding wraps a core value without Unwrap: what it wraps is out of
// reach, as for any wrapper that does not take part.
type hiding struct{ core }

func TestAs(t *testing.T) {
	reader := reading{}
	tests := []struct {
		name       string
		v          core
		wantReader any // nil: no io.Reader
	}{
		{"nil", nil, nil},
		{"plain", plain{}, nil},
		{"implements", reader, reader},
		{"decorator answers", decorator{reader}, decorated{reader}},
		{"decorator of a value without it", decorator{plain{}}, nil},
		{"two decorators", decorator{decorator{reader}}, decorated{decorated{reader}}},
		{"a wrapper without Unwrap hides", hiding{reader}, nil},
		{"a decorator of a hiding wrapper", decorator{hiding{reader}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := As[io.Reader](tc.v)
			assert.Equal(t, tc.wantReader != nil, ok)
			if tc.wantReader != nil {
				assert.Equal(t, tc.wantReader, r)
			} else {
				assert.Nil(t, r)
			}
		})
	}
	reading := struct {
		reading
		fmt.Stringer
	}{}
	s, ok := As[fmt.Stringer](core(decorator{reading}))
	assert.True(t, ok, "an interface the decorator does not answer for is found below it")
	assert.Equal(t, reading, s)
}
