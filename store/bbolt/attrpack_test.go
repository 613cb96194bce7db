package bbolt

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// newKeyAttributes is the attribute list of a key as Create stores it.
func newKeyAttributes(t testing.TB) []byte {
	var l attr.List
	l.Set(attr.CryptographicAlgorithm, attr.Enum(3))
	l.Set(attr.CryptographicLength, attr.Int(256))
	l.Set(attr.CryptographicUsageMask, attr.Int(12))
	l.Add(attr.Name, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Text("kmipctl-fill-1a2b3c4d-123456"), ttlv.Tag(0x420055)), attr.Retag(attr.Enum(1), ttlv.Tag(0x420054))))
	l.Set(attr.UniqueIdentifier, attr.Text("6f1c7d7e-1b8a-4f0e-9d55-2b6c36a0a001"))
	l.Set("Short Unique Identifier", attr.Bytes(make([]byte, 32)))
	l.Set(attr.ObjectType, attr.Enum(2))
	l.Set(attr.InitialDate, attr.Date(time.Unix(1700000000, 0)))
	l.Set(attr.LastChangeDate, attr.Date(time.Unix(1700000000, 0)))
	l.Set(attr.Fresh, attr.Bool(true))
	l.Set(attr.LeaseTime, attr.Retag(attr.Int(3600), ttlv.Tag(0x42000B)))
	l.Add("x-custom", attr.Text("a custom attribute"))
	l.Add("x-custom", attr.Bytes([]byte{}))
	l[len(l)-1].Index = -3
	b, err := l.Marshal()
	require.NoError(t, err)
	return b
}

func TestPackAttributes(t *testing.T) {
	list := newKeyAttributes(t)
	packed, ok := packAttributes(list)
	require.True(t, ok)
	t.Logf("%d bytes of TTLV packed into %d", len(list), len(packed))
	assert.Less(t, len(packed), len(list)/2)
	back, err := unpackAttributes(packed)
	require.NoError(t, err)
	assert.Equal(t, list, back)

	empty, err := (attr.List{}).Marshal()
	require.NoError(t, err)
	p, ok := packAttributes(empty)
	require.True(t, ok)
	back, err = unpackAttributes(p)
	require.NoError(t, err)
	assert.Equal(t, empty, back)

	// Lists of another shape are kept as they are.
	for name, b := range map[string][]byte{
		"not TTLV":         {0},
		"nil":              nil,
		"trailing byte":    append(append([]byte{}, list...), 0),
		"another top tag":  attr.Retag(list, ttlv.Tag(0x420090)),
		"attribute as int": attr.Structure(ttlv.Tag(0x420091), attr.Retag(attr.Int(1), ttlv.Tag(0x420008))),
		"no index": attr.Structure(ttlv.Tag(0x420091), attr.Structure(ttlv.Tag(0x420008),
			attr.Retag(attr.Text("Name"), ttlv.Tag(0x42000A)), attr.Retag(attr.Text("v"), ttlv.Tag(0x42000B)))),
		"non-zero padding": func() []byte {
			b := append([]byte{}, list...)
			b[len(b)-1] = 1 // the padding of the last (text) value
			return b
		}(),
	} {
		_, ok := packAttributes(b)
		assert.False(t, ok, name)
	}
}

// TestPackedRecords: records with packed attributes round-trip, damaged
// packed attributes are corruption, and version 2 records still read.
func TestPackedRecords(t *testing.T) {
	o := &store.Object{TenantID: "t", ID: "i", ObjectType: 2, State: 1, Attributes: newKeyAttributes(t), Material: []byte{1},
		Revision: 1, CreatedAt: time.Unix(0, 1).UTC(), UpdatedAt: time.Unix(0, 1).UTC()}
	b := encodeObject(o)
	assert.Equal(t, byte(objectRecordVersionPacked), b[0])
	got, err := decodeObject("t", "i", b)
	require.NoError(t, err)
	assert.Equal(t, o, got)
	for n := range len(b) {
		_, err := decodeObject("t", "i", b[:n])
		assert.ErrorIs(t, err, errCorrupt, "truncated to %d", n)
	}

	old := *o
	old.Attributes = []byte{0xde, 0xad} // not a list: stays raw, version 2
	b2 := encodeObject(&old)
	assert.Equal(t, byte(objectRecordVersion), b2[0])
	got, err = decodeObject("t", "i", b2)
	require.NoError(t, err)
	assert.Equal(t, &old, got)
}

// FuzzUnpackAttributes: damaged packed attributes fail, never panic, and
// never allocate beyond their size.
func FuzzUnpackAttributes(f *testing.F) {
	p, _ := packAttributes(newKeyAttributes(f))
	f.Add(p)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := unpackAttributes(data)
		if err == nil {
			if again, ok := packAttributes(out); ok {
				back, err := unpackAttributes(again)
				require.NoError(t, err)
				assert.Equal(t, out, back)
			}
		}
	})
}

// BenchmarkUnpackAttributes: what every record read pays to rebuild the
// attribute list of a key as Create stores it.
//
//	go test ./store/bbolt -run '^$' -bench UnpackAttributes -benchmem
func BenchmarkUnpackAttributes(b *testing.B) {
	packed, ok := packAttributes(newKeyAttributes(b))
	require.True(b, ok)
	for b.Loop() {
		if _, err := unpackAttributes(packed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPackAttributes: what every record write pays to pack the
// attribute list of a key as Create stores it.
//
//	go test ./store/bbolt -run '^$' -bench PackAttributes -benchmem
func BenchmarkPackAttributes(b *testing.B) {
	list := newKeyAttributes(b)
	for b.Loop() {
		if _, ok := packAttributes(list); !ok {
			b.Fatal("not packed")
		}
	}
}

// FuzzPackedAttribute: packedAttribute's in-place read of the usual
// attribute gives what the field-by-field read gives, on any input.
func FuzzPackedAttribute(f *testing.F) {
	p, _ := packAttributes(newKeyAttributes(f))
	f.Add(p[1:]) // after the count
	f.Add([]byte{2, 0x7f, 7, 3, 'a', 'b', 'c'})
	f.Add([]byte{0, 1, 'x', 2, 7, 0})
	f.Add([]byte{56, 0, 2, 4, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, slow := decoder{b: data}, decoder{b: data}
		name, index, typ, value, full, err := fast.packedAttribute()
		name2, index2, typ2, value2, full2, err2 := slow.packedAttributeFields()
		require.Equal(t, err2 != nil, err != nil, "error %v, field by field %v", err, err2)
		if err == nil {
			assert.Equal(t, name2, name)
			assert.Equal(t, index2, index)
			assert.Equal(t, typ2, typ)
			assert.Equal(t, value2, value)
			assert.Equal(t, full2, full)
			assert.Equal(t, slow.b, fast.b, "both read as far")
		}
	})
}
