package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
)

// Storage Status Mask bits (KMIP 1.4 section 9.1.3.3.2; 2.1 section 11.50
// adds Destroyed Storage).
const (
	StorageOnline    = int32(kmip14.StorageStatusMaskOnLineStorage)
	StorageArchival  = int32(kmip14.StorageStatusMaskArchivalStorage)
	StorageDestroyed = int32(0x00000004) // 2.x only
)

// LocateRequest is the Locate payload (KMIP 1.4 section 4.9, 2.1 section
// 6.1.27). Offset Items came with 1.3 and Object Group Member with 1.1. The
// search attributes are Attribute items directly in the payload in 1.x and
// an Attributes structure in 2.x: Filters returns either as one structure
// for DecodeAttributes.
type LocateRequest struct {
	MaximumItems      int32
	OffsetItems       int32
	StorageStatusMask int32
	ObjectGroupMember kmip14.ObjectGroupMember
	Attribute         []ttlv.TTLV
	Attributes        ttlv.TTLV
}

// Filters returns the request's search attributes as a structure that
// DecodeAttributes reads: the 2.x Attributes structure, or the 1.x
// Attribute items gathered under one. A 2.x request carrying 1.x items (or
// the reverse) is read as well.
func (r *LocateRequest) Filters() ttlv.TTLV {
	if len(r.Attribute) == 0 {
		return r.Attributes
	}
	var items []ttlv.TTLV
	if len(r.Attributes) > 0 {
		items = attr.Children(r.Attributes)
	}
	for _, a := range r.Attribute {
		// A decoded ttlv.TTLV runs on to the end of the message: keep
		// the item only.
		items = append(items, a[:a.FullLen()])
	}
	return attr.Structure(kmip20.TagAttributes, items...)
}

// LocateResponse answers Locate: the Unique Identifiers found, newest
// first, and (1.3 and later, when set) the number of all matching objects.
type LocateResponse struct {
	LocatedItems     *int32
	UniqueIdentifier []string
}
