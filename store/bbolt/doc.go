// Package bbolt is the embedded, single-node store.Store: one bbolt file,
// opened by one process at a time (a second Open fails with ErrLocked after
// a short lock timeout instead of hanging). Every write is committed with
// an fsync before the method returns; writes that arrive together share
// one commit and its fsync (group commit, commit.go).
//
// Layout (schema version 2, kept in meta/schema):
//
//	meta/schema                  uint64 schema version
//	tenants/<tenantID>           tenant record
//	objects/<tenantID>/records/<id>                    object record
//	objects/<tenantID>/created/<ts><id>                index, all objects
//	objects/<tenantID>/type/<objectType><ts><id>       index by ObjectType
//	objects/<tenantID>/state/<state><ts><id>           index by State
//	objects/<tenantID>/name/<len><name><ts><id>        index by Name
//	objects/<tenantID>/index/<entry><ts><id>           index by Index entry
//
// Each tenant's objects and indexes live in its own bucket, so no query
// reads another tenant's keys. The indexes are written in the same
// transaction as the record. Their keys end with the creation time and the
// ID, so a backwards cursor walk over a key prefix returns the newest
// objects first with no sorting and no loading of the whole tenant; their
// values hold the ObjectType, State and Archived flag, so those filters
// are applied without decoding records.
//
// ListObjects and CountObjects turn a query into index sources (the name,
// each Match entry, the type, the state or the union of the States),
// step all of them together until the first one ends (the most selective,
// found at the cost of its own size), walk that one, and check every other
// source for each candidate with one Get of the same suffix. Filters no
// index answers (ListQuery.Filter) read the candidate's record. With no
// source at all the creation index is walked. Schema 1 files (pre-release,
// without the state and entry indexes) are refused by Open.
//
// Records use a compact versioned binary encoding (codec.go), not JSON,
// with the attribute list packed (attrpack.go).
//
// WithResidentLimit bounds the pages of the file's map that stay in the
// process's resident memory (resident.go: Linux, madvise inside read
// transactions so bbolt's remaps are safe).
package bbolt
