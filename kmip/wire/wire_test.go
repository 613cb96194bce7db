package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// item builds a TTLV item by hand, so that tests can build malformed ones.
func item(tag uint32, typ byte, length uint32, value []byte) []byte {
	b := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag), typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], length)
	return append(b, value...)
}

func structure(tag uint32, children ...[]byte) []byte {
	body := bytes.Join(children, nil)
	return item(tag, 0x01, uint32(len(body)), body)
}

func integer(tag uint32, v uint32) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, v)
	return item(tag, 0x02, 4, b)
}

func text(tag uint32, s string) []byte {
	padded := make([]byte, (len(s)+7)&^7)
	copy(padded, s)
	return item(tag, 0x07, uint32(len(s)), padded)
}

const (
	tagRequestMessage = 0x420078
	tagBatchCount     = 0x42000D
	tagComment        = 0x420000 + 0x0DE // any standard tag works for shape tests
)

func TestReadFrame(t *testing.T) {
	good := structure(tagRequestMessage, integer(tagBatchCount, 1))
	tests := []struct {
		name    string
		input   []byte
		limit   int
		want    []byte
		wantErr error
	}{
		{"whole message", good, 1024, good, nil},
		{"two messages read one at a time", append(append([]byte{}, good...), good...), 1024, good, nil},
		{"clean close before a message", nil, 1024, nil, io.EOF},
		{"truncated header", good[:5], 1024, nil, ErrMalformed},
		{"body shorter than its length", good[:len(good)-3], 1024, nil, ErrMalformed},
		{"length over the limit", good, len(good) - 1, nil, ErrTooLarge},
		{"not a structure", integer(tagBatchCount, 1), 1024, nil, ErrNotStruct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tt.input), tt.limit)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// countingReader fails the test if more than max bytes are read from it.
type countingReader struct {
	r    io.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

// infinite yields zero bytes forever: a body that would take 2 GiB.
type infinite struct{}

func (infinite) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestReadFrameRefusesHugeLengthWithoutReadingOrAllocating(t *testing.T) {
	hdr := item(tagRequestMessage, 0x01, 2<<30-8, nil) // claims a 2 GiB body
	r := &countingReader{r: io.MultiReader(bytes.NewReader(hdr), infinite{})}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(r, 1<<20)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Equal(t, HeaderLen, r.read, "only the header may be read")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "no body buffer may be allocated")
}

func TestCheck(t *testing.T) {
	deep := integer(tagBatchCount, 1)
	for i := 0; i < MaxDepth+1; i++ {
		deep = structure(tagRequestMessage, deep)
	}
	okDeep := integer(tagBatchCount, 1)
	for i := 0; i < MaxDepth; i++ {
		okDeep = structure(tagRequestMessage, okDeep)
	}
	badPadInt := integer(tagBatchCount, 1)
	badPadInt[15] = 1
	badBool := item(tagBatchCount, 0x06, 8, []byte{0, 0, 0, 0, 0, 0, 0, 2})
	badUTF8 := item(tagComment, 0x07, 2, []byte{0xff, 0xfe, 0, 0, 0, 0, 0, 0})
	badTextPad := item(tagComment, 0x07, 1, []byte{'a', 1, 0, 0, 0, 0, 0, 0})
	tests := []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"flat structure", structure(tagRequestMessage, integer(tagBatchCount, 1), text(tagComment, "hello")), true},
		{"empty structure", structure(tagRequestMessage), true},
		{"nesting at the limit", okDeep, true},
		{"nesting over the limit", deep, false},
		{"tag outside KMIP ranges", item(0x110000, 0x02, 4, make([]byte, 8)), false},
		{"unknown type", item(tagBatchCount, 0x0C, 4, make([]byte, 8)), false},
		{"integer with length 8", item(tagBatchCount, 0x02, 8, make([]byte, 8)), false},
		{"integer with non-zero padding", badPadInt, false},
		{"boolean that is not 0 or 1", badBool, false},
		{"text that is not UTF-8", badUTF8, false},
		{"text with non-zero padding", badTextPad, false},
		{"big integer of 3 bytes", item(tagBatchCount, 0x04, 3, make([]byte, 8)), false},
		{"child longer than its parent", structure(tagRequestMessage, integer(tagBatchCount, 1))[:20], false},
		{"structure length that lies", append(item(tagRequestMessage, 0x01, 24, nil), integer(tagBatchCount, 1)...), false},
		{"trailing bytes", append(structure(tagRequestMessage), 0, 0, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.msg)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.True(t, errors.Is(err, ErrMalformed), "want ErrMalformed, got %v", err)
			}
		})
	}
}

func TestDecodeTurnsDecoderPanicsIntoErrors(t *testing.T) {
	// A byte string where the destination is a string makes gemalto's
	// decoder panic; Decode must return an error instead.
	msg := structure(tagRequestMessage, item(tagComment, 0x08, 1, []byte{1, 0, 0, 0, 0, 0, 0, 0}))
	require.NoError(t, Check(msg))
	var dst struct {
		Comment string `ttlv:"0x4200de"`
	}
	assert.ErrorIs(t, Decode(msg, &dst), ErrMalformed)
}
