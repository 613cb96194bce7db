package ops

import "github.com/google/uuid"

// newObjectID is the Unique Identifier of a new managed object: a UUID
// version 7 (RFC 9562), whose first 48 bits are the creation time in
// milliseconds and the other 74 a sequence within the millisecond and
// random bits.
//
// Why time-ordered rather than random (version 4): the stores keep
// records in B-trees keyed by the identifier. Random keys scatter a group
// commit's inserts over as many leaf pages as there are inserts, every one
// rewritten whole; time-ordered keys put them at the end of the tree,
// together. bbolt (`go test ./store/bbolt -run '^$' -bench CreateDurable`,
// 16 writers): 59 -> 42 pages written per commit, 23% less CPU per Create;
// PostgreSQL's primary key index gains the same way.
//
// What it tells: the identifier shows when the object was made, to the
// millisecond, which its Initial Date attribute already tells every
// client allowed to see it. 62 random bits remain (version 4 had 122):
// guessing an identifier still means about 2^62 tries per millisecond of
// creation time, and an identifier grants nothing by itself, since every
// lookup is within the caller's tenant; the stores refuse a duplicate.
func newObjectID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// Only the system's random source failing makes NewV7 fail;
		// NewString panics then too.
		panic(err)
	}
	return id.String()
}
