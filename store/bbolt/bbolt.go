package bbolt

import (
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
const schemaVersion = 2

// DefaultLockTimeout is how long Open waits for the file lock.
const DefaultLockTimeout = time.Second

var (
	bucketMeta    = []byte("meta")
	bucketTenants = []byte("tenants")
	bucketObjects = []byte("objects")

	keySchema = []byte("schema")
)

// Store is a store.Store in a bbolt file. bbolt allows one writer at a
// time, which makes the revision checks of updates atomic without more
// locking; every write is fsynced before its method returns.
type Store struct {
	db     *bolt.DB
	writes *committer // group commit of the writes (commit.go)
	// in is the transaction of a Store handed to an Update function
	// (tx.go); nil for the store itself.
	in *txState
	// resident bounds the map's resident pages (resident.go); nil
	// without WithResidentLimit.
	resident *residency
}

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout   time.Duration
	residentLimit int64
	residentCheck time.Duration
	dropChunk     uintptr
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
	o := options{lockTimeout: DefaultLockTimeout, residentCheck: DefaultResidentCheck, dropChunk: dropChunk}
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
	s := &Store{db: db, writes: newCommitter(db)}
	if o.residentLimit > 0 {
		if s.resident, err = startResidency(db, o.residentLimit, o.residentCheck, o.dropChunk); err != nil {
			s.writes.close()
			_ = db.Close()
			return nil, err
		}
	}
	return s, nil
}

func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if v := meta.Get(keySchema); v != nil {
		if len(v) == 8 && binary.BigEndian.Uint64(v) == 1 {
			// Schema 1 lacks the state and attribute indexes, whose
			// entries only the kmip package can compute: it came from
			// pre-release builds and is not migrated.
			return errors.New("schema version 1 was written by a pre-release build and has no attribute indexes: move the file away and let the server create a new one")
		}
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

// Close commits the writes in progress and closes the database. Calling
// it again does nothing.
func (s *Store) Close() error {
	if s.in != nil { // a view of an Update: the file is its parent's
		return nil
	}
	if s.resident != nil {
		s.resident.close() // before the file: it opens read transactions
	}
	s.writes.close()
	return s.db.Close()
}

// view and update run fn in a transaction after checking ctx, and give
// every error the operation's name. A closed database is ErrUnavailable.
func (s *Store) view(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	return s.viewAfter(ctx, op, true, fn)
}

// viewAfter is view; flushHeld false leaves writes that ctx holds back
// (store.WithWriteBehind) held, for a read that none of them can change.
func (s *Store) viewAfter(ctx context.Context, op string, flushHeld bool, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bbolt: %s: %w", op, err)
	}
	if s.in != nil {
		return wrap(op, fn(s.in.tx))
	}
	if flushHeld {
		if err := flushHeldWrites(ctx, op); err != nil {
			return err
		}
	}
	if err := settle(ctx, op); err != nil {
		return err
	}
	return wrap(op, s.db.View(fn))
}

// flushHeldWrites commits the writes that ctx holds back (see
// store.WithWriteBehind) before a call that must see them.
func flushHeldWrites(ctx context.Context, op string) error {
	if w := store.WriteBehindFrom(ctx); w.Holding() {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("bbolt: %s: the held writes before it failed: %w", op, err)
		}
	}
	return nil
}

// settle waits for the commits of the writes that ctx deferred (see
// store.WithDeferredDurability) before anything else is done with ctx:
// an operation reads its own writes, and a write after a failed one
// fails.
func settle(ctx context.Context, op string) error {
	if d := store.DeferredFrom(ctx); d != nil {
		if err := d.Wait(); err != nil {
			return fmt.Errorf("bbolt: %s: an earlier write failed: %w", op, err)
		}
	}
	return nil
}

func (s *Store) update(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bbolt: %s: %w", op, err)
	}
	if s.in != nil {
		return wrap(op, s.in.write(fn))
	}
	if err := flushHeldWrites(ctx, op); err != nil {
		return err
	}
	if err := settle(ctx, op); err != nil {
		return err
	}
	return wrap(op, s.writes.update(fn))
}

// deferrable is update for CreateObject and UpdateObject, the writes
// whose durability may be deferred (store.WithDeferredDurability): what a
// caller does after them (answering) waits for the Deferred. Every other
// write stays durable when it returns, because callers act on them at
// once: a tenant's KEK, say, is cached in memory once its tenant record
// is written, and must never be if that commit fails.
func (s *Store) deferrable(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	d := store.DeferredFrom(ctx)
	if d == nil || s.in != nil {
		return s.update(ctx, op, fn)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bbolt: %s: %w", op, err)
	}
	if err := flushHeldWrites(ctx, op); err != nil {
		return err
	}
	if err := settle(ctx, op); err != nil {
		return err
	}
	wait, err := s.writes.updateDeferred(fn)
	if err == nil && wait != nil {
		d.Defer(func() error { return wrap(op, wait()) })
	}
	return wrap(op, err)
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
	err := s.deferrable(ctx, op, func(tx *bolt.Tx) error {
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
	if held := store.WriteBehindFrom(ctx).Held(tenantID, id); held != nil {
		return held, nil // as an earlier item of the message left it
	}
	var o *store.Object
	// The writes ctx holds back touched other objects: they stay held.
	err := s.viewAfter(ctx, "get object", false, func(tx *bolt.Tx) error {
		// Only the records bucket: the read every Get makes opens no index.
		if tenantID == "" {
			return store.ErrNotFound
		}
		t := tx.Bucket(bucketObjects).Bucket([]byte(tenantID))
		if t == nil {
			return store.ErrNotFound
		}
		records := t.Bucket(bucketRecords)
		if records == nil {
			return fmt.Errorf("tenant %q: bucket %s missing: %w", tenantID, bucketRecords, errCorrupt)
		}
		v := records.Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		o, err = decodeObject(tenantID, id, v)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%w (object %q/%q)", err, tenantID, id)
	}
	return o, err
}

// UpdateObject implements store.Store.
func (s *Store) UpdateObject(ctx context.Context, o *store.Object) error {
	op := fmt.Sprintf("update object %q/%q", o.TenantID, o.ID)
	if w := store.WriteBehindFrom(ctx); s.in == nil && w.Holding() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bbolt: %s: %w", op, err)
		}
		held := store.CloneObject(o)
		held.Revision, held.UpdatedAt = o.Revision+1, now()
		expect := o.Revision
		write := func(tx *bolt.Tx) error { return replaceObject(tx, held, expect) }
		if w.Hold(held, write, s.commitHeld) {
			o.Revision, o.UpdatedAt = held.Revision, held.UpdatedAt
			return nil
		}
	}
	rec := *o
	err := s.deferrable(ctx, op, func(tx *bolt.Tx) error {
		rec.UpdatedAt = now()
		return replaceObject(tx, &rec, o.Revision)
	})
	if err != nil {
		return err
	}
	o.Revision, o.CreatedAt, o.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// replaceObject writes rec over the stored object if that is still at
// revision expect; rec gets the next revision and the stored CreatedAt.
func replaceObject(tx *bolt.Tx, rec *store.Object, expect uint64) error {
	tb, ok, err := openTenant(tx, rec.TenantID)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	old, err := tb.get(rec.TenantID, rec.ID)
	if err != nil {
		return err
	}
	if old.Revision != expect {
		return fmt.Errorf("%w: stored revision %d, update carries %d", store.ErrConflict, old.Revision, expect)
	}
	rec.Revision = old.Revision + 1
	rec.CreatedAt = old.CreatedAt
	// The index keys hold CreatedAt and the ID, which do not change;
	// type, state, names and index entries may.
	if err := tb.records.Put([]byte(rec.ID), encodeObject(rec)); err != nil {
		return err
	}
	return tb.replaceIndexes(old, rec)
}

// commitHeld applies the writes a message held back (UpdateObject with
// store.WithWriteBehind), in order, in one group transaction, and returns
// once that transaction is being committed, with the wait for the commit
// (store.CommitHeld). A write refused as it is applied (the object
// changed or went away since the message read it) fails them all with
// store.ErrHeldWriteRefused: nothing of them is committed.
func (s *Store) commitHeld(writes []any) (func() error, error) {
	const op = "commit held writes"
	commit, err := s.writes.updateDeferred(func(tx *bolt.Tx) error {
		for _, w := range writes {
			write, ok := w.(func(*bolt.Tx) error)
			if !ok {
				return fmt.Errorf("a held write of another store (%T)", w)
			}
			if err := write(tx); err != nil {
				if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("%w: %w", store.ErrHeldWriteRefused, err)
				}
				return err
			}
		}
		return nil
	})
	if err != nil || commit == nil {
		return nil, wrap(op, err)
	}
	return func() error { return wrap(op, commit()) }, nil
}

// DeleteObject implements store.Store.
func (s *Store) DeleteObject(ctx context.Context, tenantID, id string) error {
	return s.update(ctx, fmt.Sprintf("delete object %q/%q", tenantID, id), func(tx *bolt.Tx) error {
		tb, ok, err := openTenant(tx, tenantID)
		if err != nil {
			return err
		}
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
		var stored *store.Stamp
		if v := b.Get([]byte(t.ID)); v != nil {
			old, err := decodeTenant(t.ID, v)
			if err != nil {
				return err
			}
			stored = &store.Stamp{Revision: old.Revision, CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt}
		}
		stamp, err := store.NextStamp(t.Revision, stored, now())
		if err != nil {
			return err
		}
		rec.Revision, rec.CreatedAt, rec.UpdatedAt = stamp.Revision, stamp.CreatedAt, stamp.UpdatedAt
		if err := bumpRegistrySerial(tx); err != nil {
			return err
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
