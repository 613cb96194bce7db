package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// TestRecordMACInputIndexOrder: the index entries are covered as a set,
// in one order, whatever order (and repetition) the store hands them out
// in; AppendRecordMACInput appends exactly RecordMACInput's bytes.
func TestRecordMACInputIndexOrder(t *testing.T) {
	a := store.IndexEntry{Key: "name", Value: []byte("k1")}
	b := store.IndexEntry{Key: "name", Value: []byte("k2")}
	c := store.IndexEntry{Key: "state", Value: []byte{2}}
	record := func(index ...store.IndexEntry) *store.Object {
		return &store.Object{ID: "id-1", ObjectType: 2, State: 1, Names: []string{"k1"},
			Attributes: []byte{1, 2, 3}, Material: []byte{4, 5}, Index: index}
	}
	sorted := store.RecordMACInput(record(a, b, c), 7)
	for _, tt := range []struct {
		name  string
		index []store.IndexEntry
		same  bool
	}{
		{"sorted", []store.IndexEntry{a, b, c}, true},
		{"reversed", []store.IndexEntry{c, b, a}, true},
		{"repeated", []store.IndexEntry{a, a, b, c, c}, true},
		{"one missing", []store.IndexEntry{a, c}, false},
		{"another value", []store.IndexEntry{a, b, {Key: "state", Value: []byte{3}}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := record(tt.index...)
			before := append([]store.IndexEntry(nil), o.Index...)
			got := store.RecordMACInput(o, 7)
			assert.Equal(t, tt.same, string(got) == string(sorted))
			assert.Equal(t, before, o.Index, "the record's own index is left as it was")
			prefix := []byte("prefix")
			assert.Equal(t, append([]byte("prefix"), got...), store.AppendRecordMACInput(prefix, o, 7))
		})
	}
	assert.NotEqual(t, sorted, store.RecordMACInput(record(a, b, c), 8), "the revision is covered")
}
