package optional

import (
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

type readCloser struct{}

func (readCloser) Read([]byte) (int, error) { return 0, io.EOF }
func (readCloser) Close() error             { return nil }

type stringer struct{}

func (stringer) String() string { return "" }

var list = []reflect.Type{reflect.TypeFor[io.Reader](), reflect.TypeFor[io.Closer](), reflect.TypeFor[fmt.Stringer]()}

func TestMask(t *testing.T) {
	all := func(reflect.Type) bool { return true }
	assert.Equal(t, uint(0b011), Mask("test", readCloser{}, list[:2], all))
	assert.Equal(t, uint(0b010), Mask("test", readCloser{}, list, func(it reflect.Type) bool { return it == list[1] }))
	assert.PanicsWithValue(t, "test: optional.stringer does not implement io.Reader", func() { Mask("test", stringer{}, list, all) })
}

func TestMaskLike(t *testing.T) {
	full := struct {
		readCloser
		stringer
	}{}
	for range 2 { // the second answers from the cache
		assert.Equal(t, uint(0b011), MaskLike("test", full, readCloser{}, list))
		assert.Equal(t, uint(0b100), MaskLike("test", full, stringer{}, list))
		assert.Equal(t, uint(0), MaskLike("test", full, nil, list))
		assert.Equal(t, uint(0b01), MaskLike("test", full, readCloser{}, list[:1]), "another list is another answer")
	}
}
