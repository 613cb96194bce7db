// Package bbolt is the embedded, single-node store.Store: one bbolt file,
// opened by one process at a time (a second Open fails with ErrLocked after
// a short lock timeout instead of hanging). Every write is committed with
// an fsync before the method returns.
//
// Layout (schema version 1, kept in meta/schema):
//
//	meta/schema                  uint64 schema version
//	tenants/<tenantID>           tenant record
//	objects/<tenantID>/records/<id>                    object record
//	objects/<tenantID>/created/<ts><id>                index, all objects
//	objects/<tenantID>/type/<objectType><ts><id>       index by ObjectType
//	objects/<tenantID>/name/<len><name><ts><id>        index by Name
//
// Each tenant's objects and indexes live in its own bucket, so no query
// reads another tenant's keys. The indexes are written in the same
// transaction as the record. Their keys end with the creation time and the
// ID, so a backwards cursor walk over a key prefix returns the newest
// objects first with no sorting and no loading of the whole tenant; their
// values hold the ObjectType and State, so those filters are applied
// without decoding records. ListObjects walks the name index when the query
// has a Name, else the type index when it has an ObjectType, else the
// creation index.
//
// Records use a compact versioned binary encoding (codec.go), not JSON.
package bbolt
