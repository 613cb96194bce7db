package message

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rawItem(tag ttlv.Tag, typ ttlv.Type, value []byte) []byte {
	b := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag), byte(typ), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], uint32(len(value)))
	b = append(b, value...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func rawLong(tag ttlv.Tag, typ ttlv.Type, v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return rawItem(tag, typ, b[:])
}

func TestCheckDates(t *testing.T) {
	date := func(v int64) []byte { return rawLong(kmip14.TagAttributeValue, ttlv.TypeDateTime, v) }
	ext := func(v int64) []byte { return rawLong(kmip14.TagAttributeValue, ttlv.TypeDateTimeExtended, v) }
	nested := func(inner []byte) []byte {
		attr := rawItem(kmip14.TagAttribute, ttlv.TypeStructure, append(rawItem(kmip14.TagAttributeName, ttlv.TypeTextString, []byte("Activation Date")), inner...))
		return rawItem(kmip14.TagTemplateAttribute, ttlv.TypeStructure, attr)
	}
	tests := []struct {
		name    string
		payload []byte
		ok      bool
	}{
		{"year 1", date(MinDateTime.Unix()), true},
		{"year 9999", date(MaxDateTime.Unix()), true},
		{"now, nested", nested(date(1764500000)), true},
		{"before year 1", date(MinDateTime.Unix() - 1), false},
		{"after year 9999", date(MaxDateTime.Unix() + 1), false},
		{"start of int64", date(math.MinInt64), false},
		{"end of int64, nested after a valid item", append(date(0), nested(date(math.MaxInt64))...), false},
		{"extended, now", ext(1764500000 * 1e6), true},
		{"extended, end of int64", ext(math.MaxInt64), false},
		{"extended, start of int64", nested(ext(math.MinInt64)), false},
		{"no dates", rawItem(kmip14.TagUniqueIdentifier, ttlv.TypeTextString, []byte("x")), true},
		{"truncated: left to the decoder", date(math.MaxInt64)[:12], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDates(tt.payload)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, kmip20.ResultReasonInvalidField, e.Reason)
			assert.Contains(t, e.Message, "AttributeValue")
		})
	}
}
