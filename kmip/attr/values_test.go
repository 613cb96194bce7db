package attr

import (
	"math"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
)

// The hand-written value constructors make exactly the bytes gemalto's
// encoder makes for the same value.
func TestValueConstructorsMatchGemalto(t *testing.T) {
	tag := kmip14.TagAttributeValue
	dates := []time.Time{
		time.Unix(0, 0), time.Unix(1700000000, 999999999), time.Unix(-1, 0),
		time.Date(2026, 11, 30, 16, 0, 0, 5, time.FixedZone("x", 3600)), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name      string
		got, want ttlv.TTLV
	}{
		{"empty text", Text(""), encode(func(e *ttlv.Encoder) { e.EncodeTextString(tag, "") })},
		{"text of 8", Text("12345678"), encode(func(e *ttlv.Encoder) { e.EncodeTextString(tag, "12345678") })},
		{"text of 9", Text("123456789"), encode(func(e *ttlv.Encoder) { e.EncodeTextString(tag, "123456789") })},
		{"non-ASCII text", Text("clé é"), encode(func(e *ttlv.Encoder) { e.EncodeTextString(tag, "clé é") })},
		{"nil bytes", Bytes(nil), encode(func(e *ttlv.Encoder) { e.EncodeByteString(tag, nil) })},
		{"empty bytes", Bytes([]byte{}), encode(func(e *ttlv.Encoder) { e.EncodeByteString(tag, []byte{}) })},
		{"bytes of 32", Bytes(make([]byte, 32)), encode(func(e *ttlv.Encoder) { e.EncodeByteString(tag, make([]byte, 32)) })},
		{"bytes of 3", Bytes([]byte{1, 2, 3}), encode(func(e *ttlv.Encoder) { e.EncodeByteString(tag, []byte{1, 2, 3}) })},
		{"true", Bool(true), encode(func(e *ttlv.Encoder) { e.EncodeBoolean(tag, true) })},
		{"false", Bool(false), encode(func(e *ttlv.Encoder) { e.EncodeBoolean(tag, false) })},
	}
	for _, v := range []uint32{0, 1, 12, math.MaxUint32} {
		tests = append(tests, struct {
			name      string
			got, want ttlv.TTLV
		}{"enum", Enum(v), encode(func(e *ttlv.Encoder) { e.EncodeEnumeration(tag, v) })})
	}
	for _, v := range []int32{0, 256, -3, math.MinInt32, math.MaxInt32} {
		tests = append(tests, struct {
			name      string
			got, want ttlv.TTLV
		}{"int", Int(v), encode(func(e *ttlv.Encoder) { e.EncodeInteger(tag, v) })})
	}
	for _, v := range []int64{0, -1, math.MinInt64, math.MaxInt64} {
		tests = append(tests, struct {
			name      string
			got, want ttlv.TTLV
		}{"long", Long(v), encode(func(e *ttlv.Encoder) { e.EncodeLongInteger(tag, v) })})
	}
	for _, d := range dates {
		tests = append(tests, struct {
			name      string
			got, want ttlv.TTLV
		}{"date " + d.String(), Date(d), encode(func(e *ttlv.Encoder) { e.EncodeDateTime(tag, d.UTC().Truncate(time.Second)) })})
	}
	for _, tt := range tests {
		assert.Equal(t, []byte(tt.want), []byte(tt.got), tt.name)
	}
}
