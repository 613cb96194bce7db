// Package store is the persistence contract of the adapter: managed objects
// and tenants, behind a narrow interface with one conformance suite
// (storetest) that every implementation runs.
//
// A store never sees plaintext key material: Object.Material is what the
// backend sealed. Writes are durable when a method returns nil.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned (wrapped with %w) by every implementation.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict means an update carried a stale Revision: someone else
	// changed the record since it was read.
	ErrConflict = errors.New("revision conflict")
	// ErrUnavailable means the store cannot be reached now.
	ErrUnavailable = errors.New("store unavailable")
)

// Object is a KMIP managed object as stored.
type Object struct {
	TenantID string
	// ID is the KMIP Unique Identifier, unique within the tenant.
	ID string
	// ObjectType and State are the KMIP enumeration values, kept as columns
	// because Locate and lifecycle checks filter on them.
	ObjectType uint32
	State      uint32
	// Names are the Name attribute values, kept as a column for Locate.
	Names []string
	// Attributes is the object's attribute set, encoded by the kmip package
	// (TTLV); the store treats it as opaque bytes.
	Attributes []byte
	// Material is the sealed key material (nil once destroyed).
	Material []byte
	// Archived is true for an object in archival storage (KMIP Archive);
	// ListQuery.Storage selects on it.
	Archived bool
	// Index is the object's searchable values, filled by the kmip package
	// from its attributes: the store indexes every (Key, Value) pair in the
	// same write as the record, as opaque bytes, for ListQuery.Match. Order
	// does not matter and a repeated pair counts once.
	Index []IndexEntry
	// MAC is the record's integrity tag made by the root of trust over
	// RecordMACInput (recordmac.go); empty for a record written before
	// record MACs existed (or on a root of trust without them). The store
	// keeps it as opaque bytes.
	MAC []byte
	// Revision is set by the store: 1 on create, +1 on each update.
	Revision  uint64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Tenant is a namespace of objects bound to one root of trust.
type Tenant struct {
	ID string
	// Backend is the root-of-trust type that made KeyBlob ("pkcs11", ...).
	Backend string
	// KeyBlob is the tenant KEK wrapped by the root key (backend.TenantKey).
	KeyBlob []byte
	// TenantSettings are what the admin API sets (registry.go); zero for
	// a tenant made on first use by the configured single-tenant identity.
	TenantSettings
	Revision  uint64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// IndexEntry is one searchable value of an object: a key (for the kmip
// package, an attribute name) and a value (the attribute value's TTLV
// bytes). Stores compare both byte for byte and know nothing of their
// meaning.
type IndexEntry struct {
	Key   string
	Value []byte
}

// Storage selects objects by their Archived column.
type Storage int

// Storage values; the zero value does not filter.
const (
	StorageAny      Storage = iota
	StorageOnline           // Archived is false
	StorageArchived         // Archived is true
)

// ListQuery selects a tenant's objects: every filter that is set must
// hold (AND). Zero fields do not filter. Results are ordered newest first
// (CreatedAt, then ID descending). A store answers ID, ObjectType, State,
// States, Name and Match from indexes, walking the most selective one and
// checking the others per candidate, so that a query stays fast however
// many objects the tenant has; the other filters are checked on those
// candidates.
type ListQuery struct {
	TenantID   string
	ObjectType uint32 // 0: any
	State      uint32 // 0: any
	Name       string // exact match on one of Names
	// ID selects the object with this ID (if it passes the other filters).
	ID string
	// States, when not empty, is the set of states the object may be in.
	States []uint32
	// NotStates is a set of states the object may not be in.
	NotStates []uint32
	// Match lists index entries that the object must all have (exact key
	// and value among its Index).
	Match   []IndexEntry
	Storage Storage
	// Filter, when set, decides on each object that passes every other
	// filter, newest first, before Offset and Limit are applied: it holds
	// the conditions that no index answers. It runs inside the store's read
	// transaction on a copy of the record, so it must be quick and must
	// not call the store.
	Filter func(*Object) bool
	// IDsOnly makes ListObjects return objects that carry only TenantID
	// and ID, so that a store may answer from its indexes without reading
	// the records (other fields may be zero or set).
	IDsOnly bool
	Offset  int
	Limit   int // 0: no limit
}

// Store persists objects and tenants.
type Store interface {
	// CreateObject inserts a new object; ErrExists if the ID is taken in
	// its tenant. It sets Revision to 1 and the timestamps.
	CreateObject(ctx context.Context, o *Object) error
	// GetObject returns ErrNotFound for a missing ID, and for an ID that
	// exists only in another tenant.
	GetObject(ctx context.Context, tenantID, id string) (*Object, error)
	// UpdateObject replaces an object if o.Revision matches the stored one
	// (ErrConflict otherwise) and increments o.Revision.
	UpdateObject(ctx context.Context, o *Object) error
	// DeleteObject removes an object; ErrNotFound if missing.
	DeleteObject(ctx context.Context, tenantID, id string) error
	// ListObjects returns the objects matching q.
	ListObjects(ctx context.Context, q ListQuery) ([]*Object, error)
	// CountObjects returns how many objects match q, whatever its Offset
	// and Limit (the number ListObjects returns with neither).
	CountObjects(ctx context.Context, q ListQuery) (int, error)

	// GetTenant returns ErrNotFound for an unknown tenant.
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// PutTenant creates a tenant (t.Revision == 0; ErrExists if present) or
	// updates it (t.Revision must match; ErrConflict otherwise).
	PutTenant(ctx context.Context, t *Tenant) error

	// Close flushes and releases the store. Calling it twice is safe.
	Close() error
}

// Scanner is implemented by stores that can hand out everything they hold,
// for copying a whole store into another (kmipctl store migrate).
type Scanner interface {
	// TenantIDs returns, sorted, the ID of every tenant that has a tenant
	// record or objects (a store may also list a tenant whose objects
	// were all deleted).
	TenantIDs(ctx context.Context) ([]string, error)
	// ScanObjects calls fn with each object of the tenant whose ID sorts
	// after afterID (all of them for ""), in ID order (bytewise), until fn
	// returns an error, which ScanObjects returns as it is. The object is
	// fn's to keep. fn may be slow, and must not write to this store.
	ScanObjects(ctx context.Context, tenantID, afterID string, fn func(*Object) error) error
}

// Importer is implemented by stores that can take records copied from
// another store as they are: Revision and the timestamps are kept, not set
// (kmipctl store migrate).
type Importer interface {
	// ImportTenant stores t; ErrExists if the tenant has a record.
	ImportTenant(ctx context.Context, t *Tenant) error
	// ImportObjects stores the objects in one write: all of them or, on
	// error, none. An object whose ID is taken in its tenant is left as it
	// is, and present holds the stored record at that object's index (nil
	// where the object was written), so that a copy run again can check
	// what an earlier run wrote.
	ImportObjects(ctx context.Context, objs []*Object) (present []*Object, err error)
}

// Transactor is implemented by stores that can make several changes all
// or nothing: a batch sent with the Undo option, an operation that writes
// more than one object (Re-key, Create Key Pair, Import over an existing
// object).
type Transactor interface {
	// Update calls fn with a Store whose reads see fn's own writes. When
	// fn returns nil the writes are committed together (durable and seen
	// by others at once) and Update returns nil, or the commit's error;
	// when fn returns an error none of them is kept and Update returns
	// that error as it is. The Store given to fn is valid only during fn
	// and is used by one goroutine; its Close does nothing, and other
	// stores' methods must not be called from fn (a store may hold a lock
	// that they wait for). A commit that fails with ErrUnavailable may
	// have happened: the connection was lost with the answer.
	Update(ctx context.Context, fn func(tx Store) error) error
}
