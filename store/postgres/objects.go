package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Terms are the rows of kmip_terms: one per distinct Name and per distinct
// index entry of an object, each the SHA-256 of
//
//	'n' name                       for a Name
//	'e' len(key)(4) key value      for an index entry
//
// so that a Locate on a value of any length is one equality on a 32-byte
// key, names and entries never meet, and a key and value never run into
// each other.
func nameTerm(name string) []byte {
	h := sha256.New()
	h.Write([]byte{'n'})
	h.Write([]byte(name))
	return h.Sum(nil)
}

func entryTerm(e store.IndexEntry) []byte {
	h := sha256.New()
	h.Write([]byte{'e'})
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(e.Key)))) //nolint:gosec // lengths fit
	h.Write([]byte(e.Key))
	h.Write(e.Value)
	return h.Sum(nil)
}

// terms lists o's distinct terms.
func terms(o *store.Object) [][]byte {
	out := make([][]byte, 0, len(o.Names)+len(o.Index))
	seen := make(map[[sha256.Size]byte]bool, cap(out))
	add := func(t []byte) {
		if k := [sha256.Size]byte(t); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	for _, n := range o.Names {
		add(nameTerm(n))
	}
	for _, e := range o.Index {
		add(entryTerm(e))
	}
	return out
}

// columns is the order in which objects are written and read.
const columns = "tenant_id, id, object_type, state, archived, names, attributes, material, index_keys, index_values, revision, created_at, updated_at, mac"

// row is an object in its column types.
type row struct {
	tenantID, id       string
	objectType, state  int64
	archived           bool
	names              [][]byte
	attributes         []byte
	material           []byte
	indexKeys, indexes [][]byte
	revision           int64
	created, updated   time.Time
	mac                []byte // schema 3
}

func toRow(o *store.Object) row {
	r := row{
		tenantID: o.TenantID, id: o.ID,
		objectType: int64(o.ObjectType), state: int64(o.State), archived: o.Archived,
		names: make([][]byte, len(o.Names)), attributes: o.Attributes, material: o.Material,
		indexKeys: make([][]byte, len(o.Index)), indexes: make([][]byte, len(o.Index)),
		revision: int64(o.Revision), //nolint:gosec // revisions stay far below 2^63
		created:  o.CreatedAt, updated: o.UpdatedAt, mac: o.MAC,
	}
	for i, n := range o.Names {
		r.names[i] = []byte(n)
	}
	for i, e := range o.Index {
		r.indexKeys[i] = []byte(e.Key)
		r.indexes[i] = e.Value
		if r.indexes[i] == nil {
			r.indexes[i] = []byte{} // NULL is not an entry value
		}
	}
	return r
}

// values is the row as statement arguments, in columns order.
func (r row) values() []any {
	return []any{r.tenantID, r.id, r.objectType, r.state, r.archived, r.names, r.attributes, r.material,
		r.indexKeys, r.indexes, r.revision, r.created, r.updated, r.mac}
}

// scanObject reads one row selected with columns. pgx copies every byte
// string it scans, so the object owns its memory.
func scanObject(rows pgx.Row) (*store.Object, error) {
	var r row
	if err := rows.Scan(&r.tenantID, &r.id, &r.objectType, &r.state, &r.archived, &r.names, &r.attributes,
		&r.material, &r.indexKeys, &r.indexes, &r.revision, &r.created, &r.updated, &r.mac); err != nil {
		return nil, err
	}
	o := &store.Object{
		TenantID: r.tenantID, ID: r.id, ObjectType: uint32(r.objectType), State: uint32(r.state), //nolint:gosec // stored from uint32
		Archived: r.archived, Attributes: r.attributes, Material: r.material, MAC: r.mac,
		Revision:  uint64(r.revision), //nolint:gosec // positive (CHECK)
		CreatedAt: r.created.UTC(), UpdatedAt: r.updated.UTC(),
	}
	if len(r.names) > 0 {
		o.Names = make([]string, len(r.names))
		for i, n := range r.names {
			o.Names[i] = string(n)
		}
	}
	if len(r.indexKeys) != len(r.indexes) {
		return nil, fmt.Errorf("object %q: %d index keys for %d values", r.id, len(r.indexKeys), len(r.indexes))
	}
	if len(r.indexKeys) > 0 {
		o.Index = make([]store.IndexEntry, len(r.indexKeys))
		for i := range r.indexKeys {
			o.Index[i] = store.IndexEntry{Key: string(r.indexKeys[i]), Value: r.indexes[i]}
		}
	}
	return o, nil
}

// insertSQL inserts an object and its terms in one statement, unless the
// ID is taken in the tenant: then nothing is written and the count is 0.
// $15 is the terms.
const insertSQL = `WITH o AS (
	INSERT INTO kmip_objects (` + columns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
	ON CONFLICT DO NOTHING
	RETURNING id
), t AS (
	INSERT INTO kmip_terms (tenant_id, object_id, term, created_at, object_type, state, archived)
	SELECT $1, o.id, term, $12, $3, $4, $5 FROM o, unnest($15::bytea[]) AS term
)
SELECT count(*) FROM o`

func checkIDs(tenantID, id string) error {
	if tenantID == "" || id == "" {
		return errors.New("empty tenant or object id")
	}
	return nil
}

// CreateObject implements store.Store.
func (s *Store) CreateObject(ctx context.Context, o *store.Object) error {
	op := fmt.Sprintf("create object %q/%q", o.TenantID, o.ID)
	if err := checkIDs(o.TenantID, o.ID); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	rec := *o
	rec.Revision = 1
	rec.CreatedAt = now()
	rec.UpdatedAt = rec.CreatedAt
	r := toRow(&rec)
	args := append(r.values(), terms(&rec))
	err := s.run(ctx, op, false, func(ctx context.Context) error {
		var n int
		if err := s.db.QueryRow(ctx, insertSQL, args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrExists
		}
		return nil
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
	err := s.run(ctx, fmt.Sprintf("get object %q/%q", tenantID, id), true, func(ctx context.Context) error {
		var err error
		o, err = scanObject(s.db.QueryRow(ctx, "SELECT "+columns+" FROM kmip_objects WHERE tenant_id = $1 AND id = $2", tenantID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// updateSQL replaces an object if its revision is $12 (optimistic
// concurrency: a writer holding an older record changes nothing), and
// moves its terms in the same statement: the terms it no longer has go,
// the new ones come, the kept ones take the new type, state and archival
// flag. It returns the new revision and the creation time
// when it wrote, and the stored revision (NULL: no such object) so that a
// miss can tell a conflict from a missing object. $11 is the update time,
// $12 the revision the writer read, $13 the new terms, $14 the MAC.
//
// Two nodes updating one object at once: the second UPDATE waits for the
// first's row lock, then finds the revision changed and writes nothing.
const updateSQL = `WITH cur AS (
	SELECT revision FROM kmip_objects WHERE tenant_id = $1 AND id = $2
), u AS (
	UPDATE kmip_objects SET object_type = $3, state = $4, archived = $5, names = $6, attributes = $7,
		material = $8, index_keys = $9, index_values = $10, revision = revision + 1, updated_at = $11, mac = $14
	WHERE tenant_id = $1 AND id = $2 AND revision = $12
	RETURNING revision, created_at
), d AS (
	DELETE FROM kmip_terms t USING u
	WHERE t.tenant_id = $1 AND t.object_id = $2 AND NOT (t.term = ANY ($13::bytea[]))
), k AS (
	UPDATE kmip_terms t SET object_type = $3, state = $4, archived = $5 FROM u
	WHERE t.tenant_id = $1 AND t.object_id = $2 AND t.term = ANY ($13::bytea[])
		AND (t.object_type, t.state, t.archived) IS DISTINCT FROM ($3::bigint, $4::bigint, $5::boolean)
), i AS (
	INSERT INTO kmip_terms (tenant_id, object_id, term, created_at, object_type, state, archived)
	SELECT $1, $2, term, u.created_at, $3, $4, $5 FROM u, unnest($13::bytea[]) AS term
	ON CONFLICT DO NOTHING
)
SELECT (SELECT revision FROM u), (SELECT created_at FROM u), (SELECT revision FROM cur)`

// UpdateObject implements store.Store.
func (s *Store) UpdateObject(ctx context.Context, o *store.Object) error {
	op := fmt.Sprintf("update object %q/%q", o.TenantID, o.ID)
	rec := *o
	rec.UpdatedAt = now()
	r := toRow(&rec)
	args := []any{r.tenantID, r.id, r.objectType, r.state, r.archived, r.names, r.attributes, r.material,
		r.indexKeys, r.indexes, r.updated, r.revision, terms(&rec), r.mac}
	var (
		revision int64
		created  time.Time
	)
	err := s.run(ctx, op, false, func(ctx context.Context) error {
		var newRev, stored *int64
		var createdAt *time.Time
		if err := s.db.QueryRow(ctx, updateSQL, args...).Scan(&newRev, &createdAt, &stored); err != nil {
			return err
		}
		switch {
		case newRev != nil && createdAt != nil:
			revision, created = *newRev, *createdAt
			return nil
		case stored == nil:
			return store.ErrNotFound
		default:
			return fmt.Errorf("%w: stored revision %d, update carries %d", store.ErrConflict, *stored, o.Revision)
		}
	})
	if err != nil {
		return err
	}
	o.Revision = uint64(revision) //nolint:gosec // positive
	o.CreatedAt, o.UpdatedAt = created.UTC(), rec.UpdatedAt
	return nil
}

// DeleteObject implements store.Store. The object's terms go with it (ON
// DELETE CASCADE).
func (s *Store) DeleteObject(ctx context.Context, tenantID, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete object %q/%q", tenantID, id),
		"DELETE FROM kmip_objects WHERE tenant_id = $1 AND id = $2", tenantID, id)
}
