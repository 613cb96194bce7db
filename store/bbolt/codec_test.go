package bbolt

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// TestDecodeObjectFields: the byte fields decodeObject copies into one
// buffer come back equal, each its own (appending to one leaves the
// others alone, and changing the record's bytes afterwards changes
// nothing), empty ones as nil, for packed (version 3) and raw (version
// 2) attribute lists, with and without MAC, index entries and names.
func TestDecodeObjectFields(t *testing.T) {
	list := newKeyAttributes(t)
	stamp := time.Unix(1700000000, 5).UTC()
	base := func() store.Object {
		return store.Object{TenantID: "t", ID: "i", ObjectType: 2, State: 1, Revision: 3, CreatedAt: stamp, UpdatedAt: stamp}
	}
	for _, tt := range []struct {
		name    string
		version byte
		change  func(o *store.Object)
	}{
		{"packed, everything", objectRecordVersionPacked, func(o *store.Object) {
			o.Attributes, o.Material, o.MAC = list, []byte("sealed material"), bytes.Repeat([]byte{7}, 32)
			o.Names = []string{"a name", "another"}
			o.Index = []store.IndexEntry{
				{Key: "Cryptographic Algorithm", Value: []byte{0x42, 0, 0x0B, 5, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0}},
				{Key: "Name", Value: []byte("a name")},
				{Key: "x-custom", Value: []byte("custom value")},
				{Key: "x-empty"},
			}
		}},
		{"packed, without MAC", objectRecordVersionPacked, func(o *store.Object) {
			o.Attributes, o.Material = list, []byte{1}
			o.Index = []store.IndexEntry{{Key: "Object Group", Value: []byte("g")}}
		}},
		{"packed, destroyed (no material), archived", objectRecordVersionPacked, func(o *store.Object) {
			o.Attributes, o.MAC, o.Archived = list, []byte{1, 2, 3}, true
		}},
		{"raw list, everything", objectRecordVersion, func(o *store.Object) {
			o.Attributes, o.Material, o.MAC = []byte{0xde, 0xad, 0xbe, 0xef}, []byte("m"), []byte("mac")
			o.Index = []store.IndexEntry{{Key: "Name", Value: []byte("v")}}
		}},
		{"nothing at all", objectRecordVersion, func(*store.Object) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.change(&o)
			want := o
			want.Index = append([]store.IndexEntry(nil), o.Index...)
			for i := range want.Index {
				if len(want.Index[i].Value) == 0 {
					want.Index[i].Value = nil
				}
			}
			b := encodeObject(&o)
			require.Equal(t, tt.version, b[0])
			got, err := decodeObject("t", "i", b)
			require.NoError(t, err)
			assert.Equal(t, &want, got)

			fields := [][]byte{got.Attributes, got.Material, got.MAC}
			for _, e := range got.Index {
				fields = append(fields, e.Value)
			}
			for i, f := range fields {
				assert.Equal(t, len(f), cap(f), "field %d is capped at its length", i)
			}
			for i := range b {
				b[i] ^= 0xff
			}
			assert.Equal(t, &want, got, "the record's bytes changed, the object did not")
			if got.Material != nil {
				_ = append(got.Material, bytes.Repeat([]byte{0xff}, 64)...)
				_ = append(got.Attributes, bytes.Repeat([]byte{0xff}, 64)...)
				assert.Equal(t, &want, got, "appending to a field writes into no other")
			}
		})
	}
}

// FuzzDecodeObject: a damaged record fails cleanly (never a panic), and
// a record that decodes encodes back to one that decodes the same.
func FuzzDecodeObject(f *testing.F) {
	stamp := time.Unix(1700000000, 0).UTC()
	for _, o := range []*store.Object{
		{ObjectType: 2, State: 1, Attributes: newKeyAttributes(f), Material: []byte("m"), MAC: []byte("mac"),
			Names: []string{"n"}, Index: []store.IndexEntry{{Key: "Name", Value: []byte("n")}}, CreatedAt: stamp, UpdatedAt: stamp},
		{Attributes: []byte{1, 2}, CreatedAt: stamp, UpdatedAt: stamp},
	} {
		f.Add(encodeObject(o))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeObject("t", "i", b)
		if err != nil {
			return
		}
		again, err := decodeObject("t", "i", encodeObject(o))
		require.NoError(t, err)
		assert.Equal(t, o, again)
	})
}
