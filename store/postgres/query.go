package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmip-adapter/kmip-adapter/store"
)

const (
	// filterBatch is how many rows a query with a Filter reads at a time.
	filterBatch = 256
	// countCap bounds the counting that picks the rarest of several
	// values: past it a value is "large", and the first large one drives.
	countCap = 10000
)

// plan is a ListQuery as SQL.
//
// Without a Name or Match entry it selects from kmip_objects (alias o),
// whose indexes on (tenant, created_at), (tenant, type, created_at) and
// (tenant, state, created_at) let the planner walk newest first and stop
// at the Limit.
//
// With some, one of their terms drives: the query walks that term's rows
// of kmip_terms (alias d) newest first, in index order, checks the type,
// state and archival filters on the same index entries (the columns are
// repeated there), checks every other term with a primary-key probe, and
// joins kmip_objects only for the rows it returns. A Locate on a value
// therefore costs at most that value's number of objects, and stops at
// the Limit; the driver is the rarest term (see driver), as in the bbolt
// store.
type plan struct {
	q      store.ListQuery
	terms  [][]byte
	driver int // index in terms; -1: no term
	where  []string
	args   []any
}

func (p *plan) arg(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// queryTerms lists q's distinct terms: its Name, then its Match entries.
func queryTerms(q store.ListQuery) [][]byte {
	var ts [][]byte
	add := func(t []byte) {
		if !slices.ContainsFunc(ts, func(u []byte) bool { return string(u) == string(t) }) {
			ts = append(ts, t)
		}
	}
	if q.Name != "" {
		add(nameTerm(q.Name))
	}
	for _, e := range q.Match {
		add(entryTerm(e))
	}
	return ts
}

// newPlan builds the conditions of q, driven by terms[driver].
func newPlan(q store.ListQuery, terms [][]byte, driver int) *plan {
	p := &plan{q: q, terms: terms, driver: driver}
	// a is the alias whose columns carry the filters: the driving term's
	// rows, or the objects.
	a, id := "o", "o.id"
	if driver >= 0 {
		a, id = "d", "d.object_id"
	}
	p.where = append(p.where, a+".tenant_id = "+p.arg(q.TenantID))
	if driver >= 0 {
		p.where = append(p.where, "d.term = "+p.arg(terms[driver]))
	}
	if q.ID != "" {
		p.where = append(p.where, id+" = "+p.arg(q.ID))
	}
	if q.ObjectType != 0 {
		p.where = append(p.where, a+".object_type = "+p.arg(int64(q.ObjectType)))
	}
	if q.State != 0 {
		p.where = append(p.where, a+".state = "+p.arg(int64(q.State)))
	}
	states := func(in []uint32) []int64 {
		out := make([]int64, len(in))
		for i, st := range in {
			out[i] = int64(st)
		}
		return out
	}
	if len(q.States) > 0 {
		p.where = append(p.where, a+".state = ANY ("+p.arg(states(q.States))+"::bigint[])")
	}
	if len(q.NotStates) > 0 {
		p.where = append(p.where, "NOT ("+a+".state = ANY ("+p.arg(states(q.NotStates))+"::bigint[]))")
	}
	switch q.Storage {
	case store.StorageOnline:
		p.where = append(p.where, "NOT "+a+".archived")
	case store.StorageArchived:
		p.where = append(p.where, a+".archived")
	}
	for i, t := range terms {
		if i != driver {
			p.where = append(p.where, "EXISTS (SELECT 1 FROM kmip_terms t WHERE t.tenant_id = "+a+".tenant_id AND t.object_id = "+id+" AND t.term = "+p.arg(t)+")")
		}
	}
	return p
}

// from is the FROM clause: the driving term's rows, joined to the objects
// when the selected columns need them.
func (p *plan) from(join bool) string {
	switch {
	case p.driver < 0:
		return " FROM kmip_objects o"
	case join:
		return " FROM kmip_terms d JOIN kmip_objects o ON o.tenant_id = d.tenant_id AND o.id = d.object_id"
	default:
		return " FROM kmip_terms d"
	}
}

// order is newest first, ties by ID descending, in the driving index's
// own columns so that the walk follows it.
func (p *plan) order() string {
	if p.driver < 0 {
		return " ORDER BY o.created_at DESC, o.id DESC"
	}
	return " ORDER BY d.created_at DESC, d.object_id DESC"
}

// after restricts the walk to rows older than (t, id), for keyset paging.
func (p *plan) after(t time.Time, id string) {
	cols := "(o.created_at, o.id)"
	if p.driver >= 0 {
		cols = "(d.created_at, d.object_id)"
	}
	p.where = append(p.where, cols+" < ("+p.arg(t)+"::timestamptz, "+p.arg(id)+"::text COLLATE \"C\")")
}

func (p *plan) whereSQL() string { return " WHERE " + strings.Join(p.where, " AND ") }

// fullColumns are the columns of scanObject, from o.
var fullColumns = "o." + strings.ReplaceAll(columns, ", ", ", o.")

// summaryColumns answer IDsOnly from an index: the driving term's
// entries, or kmip_objects_created's.
func (p *plan) summaryColumns() string {
	if p.driver < 0 {
		return "o.tenant_id, o.id, o.object_type, o.state, o.archived, o.created_at"
	}
	return "d.tenant_id, d.object_id, d.object_type, d.state, d.archived, d.created_at"
}

func scanSummary(rows pgx.Rows) (*store.Object, error) {
	var (
		o                 store.Object
		objectType, state int64
	)
	if err := rows.Scan(&o.TenantID, &o.ID, &objectType, &state, &o.Archived, &o.CreatedAt); err != nil {
		return nil, err
	}
	o.ObjectType, o.State = uint32(objectType), uint32(state) //nolint:gosec // stored from uint32
	o.CreatedAt = o.CreatedAt.UTC()
	return &o, nil
}

// querier is what plans run on: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// driver picks the term to walk: with one, that one; with several, the one
// with the fewest objects, counted up to countCap each in one statement
// (index-only), so that the cost is bounded by the number of terms times
// the smallest count, whatever the sizes of the others.
func driver(ctx context.Context, db querier, q store.ListQuery, terms [][]byte) (int, error) {
	switch len(terms) {
	case 0:
		return -1, nil
	case 1:
		return 0, nil
	}
	rows, err := db.Query(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM kmip_terms
		WHERE tenant_id = $1 AND term = t.term LIMIT $3) c) FROM unnest($2::bytea[]) WITH ORDINALITY AS t(term, i) ORDER BY t.i`,
		q.TenantID, terms, countCap)
	if err != nil {
		return 0, err
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, err
	}
	best := 0
	for i, n := range counts {
		if n < counts[best] {
			best = i
		}
	}
	return best, nil
}

func checkTenant(op string, q store.ListQuery) error {
	if q.TenantID == "" {
		return fmt.Errorf("postgres: %s: empty tenant id", op)
	}
	return nil
}

// ListObjects implements store.Store. Without a Filter it is one
// statement with OFFSET and LIMIT (after a count that picks the driving
// term, when there are several); with one, the matching rows are read
// newest first in batches (keyset paging) inside one read-only REPEATABLE
// READ transaction, the Filter decides on each, and Offset and Limit
// apply to what it keeps.
func (s *Store) ListObjects(ctx context.Context, q store.ListQuery) ([]*store.Object, error) {
	op := fmt.Sprintf("list objects %q", q.TenantID)
	if err := checkTenant(op, q); err != nil {
		return nil, err
	}
	terms := queryTerms(q)
	var out []*store.Object
	err := s.run(ctx, op, true, func(ctx context.Context) error {
		out = []*store.Object{}
		if q.Filter != nil {
			skip := max(q.Offset, 0)
			return s.walk(ctx, q, terms, func(o *store.Object) bool {
				if skip > 0 {
					skip--
					return true
				}
				out = append(out, o)
				return q.Limit <= 0 || len(out) < q.Limit
			})
		}
		drv, err := driver(ctx, s.db, q, terms)
		if err != nil {
			return err
		}
		p := newPlan(q, terms, drv)
		sql := "SELECT " + fullColumns + p.from(true)
		scan := func(r pgx.Rows) (*store.Object, error) { return scanObject(r) }
		if q.IDsOnly {
			sql, scan = "SELECT "+p.summaryColumns()+p.from(false), scanSummary
		}
		sql += p.whereSQL() + p.order()
		if q.Offset > 0 {
			sql += " OFFSET " + p.arg(int64(q.Offset))
		}
		if q.Limit > 0 {
			sql += " LIMIT " + p.arg(int64(q.Limit))
		}
		rows, err := s.db.Query(ctx, sql, p.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountObjects implements store.Store: count(*) over the driving index
// without a Filter (no object is read), a walk with one.
func (s *Store) CountObjects(ctx context.Context, q store.ListQuery) (int, error) {
	op := fmt.Sprintf("count objects %q", q.TenantID)
	if err := checkTenant(op, q); err != nil {
		return 0, err
	}
	terms := queryTerms(q)
	var n int
	err := s.run(ctx, op, true, func(ctx context.Context) error {
		n = 0
		if q.Filter != nil {
			return s.walk(ctx, q, terms, func(*store.Object) bool { n++; return true })
		}
		drv, err := driver(ctx, s.db, q, terms)
		if err != nil {
			return err
		}
		p := newPlan(q, terms, drv)
		return s.db.QueryRow(ctx, "SELECT count(*)"+p.from(false)+p.whereSQL(), p.args...).Scan(&n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// walk calls emit, newest first, with every object that matches q,
// Filter included, until emit returns false.
func (s *Store) walk(ctx context.Context, q store.ListQuery, terms [][]byte, emit func(*store.Object) bool) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return s.tx(ctx, opts, func(tx pgx.Tx) error {
		drv, err := driver(ctx, tx, q, terms)
		if err != nil {
			return err
		}
		var (
			afterTime time.Time
			afterID   string
		)
		for first := true; ; first = false {
			p := newPlan(q, terms, drv)
			if !first {
				p.after(afterTime, afterID)
			}
			sql := "SELECT " + fullColumns + p.from(true) + p.whereSQL() + p.order() + " LIMIT " + p.arg(filterBatch)
			rows, err := tx.Query(ctx, sql, p.args...)
			if err != nil {
				return err
			}
			batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.Object, error) { return scanObject(r) })
			if err != nil {
				return err
			}
			for _, o := range batch {
				// The filter gets a copy: what it changes stays out of
				// the results.
				if q.Filter(clone(o)) && !emit(o) {
					return nil
				}
			}
			if len(batch) < filterBatch {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			last := batch[len(batch)-1]
			afterTime, afterID = last.CreatedAt, last.ID
		}
	})
}

func clone(o *store.Object) *store.Object {
	c := *o
	c.Names = slices.Clone(o.Names)
	c.Attributes = slices.Clone(o.Attributes)
	c.Material = slices.Clone(o.Material)
	c.Index = make([]store.IndexEntry, len(o.Index))
	for i, e := range o.Index {
		c.Index[i] = store.IndexEntry{Key: e.Key, Value: slices.Clone(e.Value)}
	}
	return &c
}
