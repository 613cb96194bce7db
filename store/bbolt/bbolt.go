package bbolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// ErrLocked is returned by Open when another process holds the database.
// The text names the configuration key, because that is what an operator
// changes (or the second process they stop).
var ErrLocked = errors.New("store.path: database is locked by another process")

// schemaVersion is the layout of buckets and keys (see doc.go). Open refuses
// a database written with another layout instead of misreading it.
const schemaVersion = 1

// DefaultLockTimeout is how long Open waits for the file lock.
const DefaultLockTimeout = time.Second

var (
	bucketMeta    = []byte("meta")
	bucketTenants = []byte("tenants")
	bucketObjects = []byte("objects")

	// Buckets inside each tenant's bucket under "objects".
	bucketRecords = []byte("records")
	bucketCreated = []byte("created")
	bucketType    = []byte("type")
	bucketName    = []byte("name")

	keySchema = []byte("schema")
)

// Store is a store.Store in a bbolt file. bbolt allows one writer at a
// time, which makes the revision checks of updates atomic without more
// locking; every write is fsynced before its method returns.
type Store struct {
	db *bolt.DB
}

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for another process to release
// the database file before it fails with ErrLocked (DefaultLockTimeout if
// not set; d <= 0 keeps the default, never "wait forever").
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Open opens or creates the database at path, creating its parent directory
// (0700) and the file (0600) if needed.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("store.path: empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store.path: %w", err)
	}
	// Without a timeout bbolt waits for the lock forever: a second server
	// started by mistake would hang silently.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store.path: open %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store.path: %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
			return fmt.Errorf("unsupported schema version %x (want %d)", v, schemaVersion)
		}
	} else if err := meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion)); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketTenants, bucketObjects} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database. Calling it again does nothing.
func (s *Store) Close() error {
	return s.db.Close()
}

// view and update run fn in a transaction after checking ctx, and give
// every error the operation's name. A closed database is ErrUnavailable.
func (s *Store) view(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bbolt: %s: %w", op, err)
	}
	return wrap(op, s.db.View(fn))
}

func (s *Store) update(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bbolt: %s: %w", op, err)
	}
	return wrap(op, s.db.Update(fn))
}

func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("bbolt: %s: %w: %w", op, store.ErrUnavailable, err)
	default:
		return fmt.Errorf("bbolt: %s: %w", op, err)
	}
}

// tenantBuckets are one tenant's record bucket and its indexes.
type tenantBuckets struct {
	records, created, byType, byName *bolt.Bucket
}

// openTenant returns the tenant's buckets, or ok=false if the tenant has no
// objects yet.
func openTenant(tx *bolt.Tx, tenantID string) (tb tenantBuckets, ok bool) {
	if tenantID == "" {
		return tb, false
	}
	b := tx.Bucket(bucketObjects).Bucket([]byte(tenantID))
	if b == nil {
		return tb, false
	}
	return tenantBuckets{
		records: b.Bucket(bucketRecords),
		created: b.Bucket(bucketCreated),
		byType:  b.Bucket(bucketType),
		byName:  b.Bucket(bucketName),
	}, true
}

func createTenant(tx *bolt.Tx, tenantID string) (tenantBuckets, error) {
	b, err := tx.Bucket(bucketObjects).CreateBucketIfNotExists([]byte(tenantID))
	if err != nil {
		return tenantBuckets{}, err
	}
	var bs [4]*bolt.Bucket
	for i, name := range [][]byte{bucketRecords, bucketCreated, bucketType, bucketName} {
		if bs[i], err = b.CreateBucketIfNotExists(name); err != nil {
			return tenantBuckets{}, err
		}
	}
	return tenantBuckets{records: bs[0], created: bs[1], byType: bs[2], byName: bs[3]}, nil
}

// Index keys end with the creation time and the ID, so that iterating a
// prefix backwards yields newest first, ties broken by ID descending:
//
//	created: ts(8) id
//	type:    objectType(4) ts(8) id
//	name:    len(name)(4) name ts(8) id
//
// ts is the Unix time in ns with the sign bit flipped, big-endian, so that
// byte order is time order. The length before the name makes a name's
// prefix match only that name. Every index value is objectType(4) state(4),
// so filters on them are applied without reading the record.

func timeKey(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())^(1<<63))
}

func typePrefix(objectType uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, objectType)
}

func namePrefix(name string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(name))), name...)
}

func indexKey(prefix []byte, o *store.Object) []byte {
	k := make([]byte, 0, len(prefix)+8+len(o.ID))
	k = append(k, prefix...)
	k = timeKey(k, o.CreatedAt)
	return append(k, o.ID...)
}

func summary(o *store.Object) []byte {
	v := binary.BigEndian.AppendUint32(make([]byte, 0, 8), o.ObjectType)
	return binary.BigEndian.AppendUint32(v, o.State)
}

func (tb tenantBuckets) putIndexes(o *store.Object) error {
	v := summary(o)
	if err := tb.created.Put(indexKey(nil, o), v); err != nil {
		return err
	}
	if err := tb.byType.Put(indexKey(typePrefix(o.ObjectType), o), v); err != nil {
		return err
	}
	for _, name := range o.Names {
		if err := tb.byName.Put(indexKey(namePrefix(name), o), v); err != nil {
			return err
		}
	}
	return nil
}

func (tb tenantBuckets) deleteIndexes(o *store.Object) error {
	if err := tb.created.Delete(indexKey(nil, o)); err != nil {
		return err
	}
	if err := tb.byType.Delete(indexKey(typePrefix(o.ObjectType), o)); err != nil {
		return err
	}
	for _, name := range o.Names {
		if err := tb.byName.Delete(indexKey(namePrefix(name), o)); err != nil {
			return err
		}
	}
	return nil
}

func (tb tenantBuckets) put(o *store.Object) error {
	if err := tb.records.Put([]byte(o.ID), encodeObject(o)); err != nil {
		return err
	}
	return tb.putIndexes(o)
}

func (tb tenantBuckets) get(tenantID, id string) (*store.Object, error) {
	v := tb.records.Get([]byte(id))
	if v == nil {
		return nil, store.ErrNotFound
	}
	return decodeObject(tenantID, id, v)
}

func now() time.Time {
	// UTC drops the monotonic reading: the value compares the same before
	// and after a round trip through the file.
	return time.Now().UTC()
}

// CreateObject implements store.Store.
func (s *Store) CreateObject(ctx context.Context, o *store.Object) error {
	op := fmt.Sprintf("create object %q/%q", o.TenantID, o.ID)
	if o.TenantID == "" || o.ID == "" {
		return fmt.Errorf("bbolt: %s: empty tenant or object id", op)
	}
	rec := *o
	rec.Revision = 1
	rec.CreatedAt = now()
	rec.UpdatedAt = rec.CreatedAt
	err := s.update(ctx, op, func(tx *bolt.Tx) error {
		tb, err := createTenant(tx, o.TenantID)
		if err != nil {
			return err
		}
		if tb.records.Get([]byte(o.ID)) != nil {
			return store.ErrExists
		}
		return tb.put(&rec)
	})
	if err != nil {
		return err
	}
	o.Revision, o.CreatedAt, o.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// GetObject implements store.Store.
func (s *Store) GetObject(ctx context.Context, tenantID, id string) (*store.Object, error) {
	var o *store.Object
	err := s.view(ctx, fmt.Sprintf("get object %q/%q", tenantID, id), func(tx *bolt.Tx) error {
		tb, ok := openTenant(tx, tenantID)
		if !ok {
			return store.ErrNotFound
		}
		var err error
		o, err = tb.get(tenantID, id)
		return err
	})
	return o, err
}

// UpdateObject implements store.Store.
func (s *Store) UpdateObject(ctx context.Context, o *store.Object) error {
	rec := *o
	err := s.update(ctx, fmt.Sprintf("update object %q/%q", o.TenantID, o.ID), func(tx *bolt.Tx) error {
		tb, ok := openTenant(tx, o.TenantID)
		if !ok {
			return store.ErrNotFound
		}
		old, err := tb.get(o.TenantID, o.ID)
		if err != nil {
			return err
		}
		if old.Revision != o.Revision {
			return fmt.Errorf("%w: stored revision %d, update carries %d", store.ErrConflict, old.Revision, o.Revision)
		}
		rec.Revision = old.Revision + 1
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = now()
		// The index keys hold CreatedAt and the ID, which do not change;
		// type, state and names may, so the old entries go first.
		if err := tb.deleteIndexes(old); err != nil {
			return err
		}
		return tb.put(&rec)
	})
	if err != nil {
		return err
	}
	o.Revision, o.CreatedAt, o.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// DeleteObject implements store.Store.
func (s *Store) DeleteObject(ctx context.Context, tenantID, id string) error {
	return s.update(ctx, fmt.Sprintf("delete object %q/%q", tenantID, id), func(tx *bolt.Tx) error {
		tb, ok := openTenant(tx, tenantID)
		if !ok {
			return store.ErrNotFound
		}
		old, err := tb.get(tenantID, id)
		if err != nil {
			return err
		}
		if err := tb.deleteIndexes(old); err != nil {
			return err
		}
		return tb.records.Delete([]byte(id))
	})
}

// ListObjects implements store.Store. It walks the most selective index
// (Name, else ObjectType, else creation time) of the one tenant backwards,
// filters on the index values, and reads only the records it returns.
func (s *Store) ListObjects(ctx context.Context, q store.ListQuery) ([]*store.Object, error) {
	if q.TenantID == "" {
		return nil, errors.New("bbolt: list objects: empty tenant id")
	}
	out := []*store.Object{}
	err := s.view(ctx, fmt.Sprintf("list objects %q", q.TenantID), func(tx *bolt.Tx) error {
		tb, ok := openTenant(tx, q.TenantID)
		if !ok {
			return nil
		}
		idx, prefix := tb.created, []byte(nil)
		switch {
		case q.Name != "":
			idx, prefix = tb.byName, namePrefix(q.Name)
		case q.ObjectType != 0:
			idx, prefix = tb.byType, typePrefix(q.ObjectType)
		}
		skip := max(q.Offset, 0)
		c := idx.Cursor()
		seen := 0
		for k, v := seekLast(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			// A query over a large tenant can run long: stop when the
			// caller has gone.
			if seen++; seen%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(v) != 8 || len(k) < len(prefix)+8 {
				return fmt.Errorf("index entry %x: %w", k, errCorrupt)
			}
			if q.ObjectType != 0 && binary.BigEndian.Uint32(v[:4]) != q.ObjectType {
				continue
			}
			if q.State != 0 && binary.BigEndian.Uint32(v[4:]) != q.State {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			id := string(k[len(prefix)+8:])
			o, err := tb.get(q.TenantID, id)
			if err != nil {
				return fmt.Errorf("index entry for %q: %w", id, err)
			}
			out = append(out, o)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// seekLast positions c on the last key that starts with prefix (or on a key
// before all of them, which the caller's prefix check stops at).
func seekLast(c *bolt.Cursor, prefix []byte) ([]byte, []byte) {
	end := prefixEnd(prefix)
	if end == nil {
		return c.Last()
	}
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// prefixEnd is the smallest key greater than every key with prefix, or nil
// if there is none (empty prefix, or all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// GetTenant implements store.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	var t *store.Tenant
	err := s.view(ctx, fmt.Sprintf("get tenant %q", id), func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTenants).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		t, err = decodeTenant(id, v)
		return err
	})
	return t, err
}

// PutTenant implements store.Store. Updating a tenant that does not exist
// is ErrNotFound.
func (s *Store) PutTenant(ctx context.Context, t *store.Tenant) error {
	op := fmt.Sprintf("put tenant %q", t.ID)
	if t.ID == "" {
		return fmt.Errorf("bbolt: %s: empty tenant id", op)
	}
	rec := *t
	err := s.update(ctx, op, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTenants)
		v := b.Get([]byte(t.ID))
		switch {
		case t.Revision == 0 && v != nil:
			return store.ErrExists
		case t.Revision == 0:
			rec.Revision = 1
			rec.CreatedAt = now()
			rec.UpdatedAt = rec.CreatedAt
		case v == nil:
			return store.ErrNotFound
		default:
			old, err := decodeTenant(t.ID, v)
			if err != nil {
				return err
			}
			if old.Revision != t.Revision {
				return fmt.Errorf("%w: stored revision %d, update carries %d", store.ErrConflict, old.Revision, t.Revision)
			}
			rec.Revision = old.Revision + 1
			rec.CreatedAt = old.CreatedAt
			rec.UpdatedAt = now()
		}
		return b.Put([]byte(t.ID), encodeTenant(&rec))
	})
	if err != nil {
		return err
	}
	t.Revision, t.CreatedAt, t.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

var _ store.Store = (*Store)(nil)
