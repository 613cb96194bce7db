package store

import (
	"encoding/binary"
	"slices"
	"strings"
)

// recordMACVersion names the layout of RecordMACInput; a new layout gets a
// new version so that old MACs are recognised as such.
const recordMACVersion = "kmip-adapter/store/record/v1"

// RecordMACInput is the canonical encoding of an object record that its
// MAC covers, as the record will be stored with Revision revision: every
// field a client's answer depends on (ID, type, state, names,
// attributes, sealed material, archival, index entries) and the revision,
// each length-prefixed. The tenant is bound by the MAC itself. Timestamps
// are the store's and are not covered. Index entries are sorted first:
// their order does not matter to a store.
func RecordMACInput(o *Object, revision uint64) []byte {
	n := len(recordMACVersion) + len(o.ID) + len(o.Attributes) + len(o.Material) + 64
	for _, name := range o.Names {
		n += len(name) + 4
	}
	for _, e := range o.Index {
		n += len(e.Key) + len(e.Value) + 8
	}
	return AppendRecordMACInput(make([]byte, 0, n), o, revision)
}

// AppendRecordMACInput appends RecordMACInput(o, revision) to b: the
// record check of every read builds it into a reused buffer.
func AppendRecordMACInput(b []byte, o *Object, revision uint64) []byte {
	field := func(v []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	field([]byte(recordMACVersion))
	field([]byte(o.ID))
	b = binary.BigEndian.AppendUint32(b, o.ObjectType)
	b = binary.BigEndian.AppendUint32(b, o.State)
	b = binary.BigEndian.AppendUint64(b, revision)
	if o.Archived {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(o.Names)))
	for _, name := range o.Names {
		field([]byte(name))
	}
	field(o.Attributes)
	// A destroyed object's material is nil; nil and empty are the same.
	field(o.Material)
	index := o.Index
	if !sortedUnique(index) { // a store usually hands them out so already
		index = slices.Clone(index)
		slices.SortFunc(index, compareIndexEntries)
		index = slices.CompactFunc(index, func(x, y IndexEntry) bool { return compareIndexEntries(x, y) == 0 })
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(index)))
	for _, e := range index {
		field([]byte(e.Key))
		field(e.Value)
	}
	return b
}

func compareIndexEntries(x, y IndexEntry) int {
	if c := strings.Compare(x.Key, y.Key); c != 0 {
		return c
	}
	return strings.Compare(string(x.Value), string(y.Value))
}

// sortedUnique reports whether index is in strictly increasing order (no
// two entries the same): the order RecordMACInput encodes them in.
func sortedUnique(index []IndexEntry) bool {
	for i := 1; i < len(index); i++ {
		if compareIndexEntries(index[i-1], index[i]) >= 0 {
			return false
		}
	}
	return true
}
