package bbolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Buckets inside each tenant's bucket under "objects".
var (
	bucketRecords = []byte("records")
	bucketCreated = []byte("created")
	bucketType    = []byte("type")
	bucketState   = []byte("state")
	bucketName    = []byte("name")
	bucketEntry   = []byte("index")

	tenantBucketNames = [][]byte{bucketRecords, bucketCreated, bucketType, bucketState, bucketName, bucketEntry}
)

// tenantBuckets are one tenant's record bucket and its indexes.
type tenantBuckets struct {
	records, created, byType, byState, byName, byEntry *bolt.Bucket
}

// bucketFillPercent is how full the buckets' pages are left when they
// split. Index keys end with the creation time, and the KMIP layer's
// identifiers (the records bucket's keys) are time-ordered UUIDs, so new
// keys go at the end of their range: with bbolt's default (half full)
// every page an append splits stays half empty for good. Measured with
// 20,000 records inserted one commit at a time, bytes of the records
// bucket per record: time-ordered keys 2,047 at 0.5, 1,365 at 0.9; random
// keys (stores written before the identifiers were time-ordered) 1,219
// at 0.5, 1,102 at 0.9.
const bucketFillPercent = 0.9

func tenantFrom(bs []*bolt.Bucket) tenantBuckets {
	for _, b := range bs {
		b.FillPercent = bucketFillPercent
	}
	return tenantBuckets{records: bs[0], created: bs[1], byType: bs[2], byState: bs[3], byName: bs[4], byEntry: bs[5]}
}

// openTenant returns the tenant's buckets, or ok=false if the tenant has no
// objects yet.
func openTenant(tx *bolt.Tx, tenantID string) (tb tenantBuckets, ok bool, err error) {
	if tenantID == "" {
		return tb, false, nil
	}
	b := tx.Bucket(bucketObjects).Bucket([]byte(tenantID))
	if b == nil {
		return tb, false, nil
	}
	bs := make([]*bolt.Bucket, len(tenantBucketNames))
	for i, name := range tenantBucketNames {
		if bs[i] = b.Bucket(name); bs[i] == nil {
			return tb, false, fmt.Errorf("tenant %q: bucket %s missing: %w", tenantID, name, errCorrupt)
		}
	}
	return tenantFrom(bs), true, nil
}

func createTenant(tx *bolt.Tx, tenantID string) (tenantBuckets, error) {
	b, err := tx.Bucket(bucketObjects).CreateBucketIfNotExists([]byte(tenantID))
	if err != nil {
		return tenantBuckets{}, err
	}
	bs := make([]*bolt.Bucket, len(tenantBucketNames))
	for i, name := range tenantBucketNames {
		if bs[i], err = b.CreateBucketIfNotExists(name); err != nil {
			return tenantBuckets{}, err
		}
	}
	return tenantFrom(bs), nil
}

// Index keys end with the creation time and the ID (the "suffix"), so that
// iterating a prefix backwards yields newest first, ties broken by ID
// descending:
//
//	created: ts(8) id
//	type:    objectType(4) ts(8) id
//	state:   state(4) ts(8) id
//	name:    len(name)(4) name ts(8) id
//	index:   entry ts(8) id
//
// where entry is len(key)(2) key len(value)(4) value, or, when key and
// value together exceed maxInlineEntry bytes, 0xffff and the SHA-256 of
// len(key)(4) key value (bbolt keys are limited to 32 KiB, and a long value
// is better compared by its digest than copied into every key).
//
// ts is the Unix time in ns with the sign bit flipped, big-endian, so that
// byte order is time order. The lengths make every prefix match only its
// own name or entry. Every index value is the summary objectType(4)
// state(4) flags(1), so the ObjectType, State, States, NotStates and
// Storage filters are applied without reading the record, and the same
// object has the same suffix in every index, so membership in another
// index is one Get.

const (
	summaryLen     = 9
	suffixTimeLen  = 8
	maxInlineEntry = 512
)

func timeKey(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())^(1<<63))
}

func timeFromKey(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

func typePrefix(objectType uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, objectType)
}

func statePrefix(state uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, state)
}

func namePrefix(name string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(name))), name...)
}

func entryPrefix(e store.IndexEntry) []byte {
	if len(e.Key)+len(e.Value) <= maxInlineEntry {
		b := make([]byte, 0, 6+len(e.Key)+len(e.Value))
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Key)))
		b = append(b, e.Key...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Value)))
		return append(b, e.Value...)
	}
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(e.Key))))
	h.Write([]byte(e.Key))
	h.Write(e.Value)
	return h.Sum([]byte{0xff, 0xff})
}

func suffix(o *store.Object) []byte {
	return append(timeKey(make([]byte, 0, suffixTimeLen+len(o.ID)), o.CreatedAt), o.ID...)
}

func withSuffix(prefix, sfx []byte) []byte {
	k := make([]byte, 0, len(prefix)+len(sfx))
	return append(append(k, prefix...), sfx...)
}

func summary(o *store.Object) []byte {
	v := binary.BigEndian.AppendUint32(make([]byte, 0, summaryLen), o.ObjectType)
	v = binary.BigEndian.AppendUint32(v, o.State)
	var flags byte
	if o.Archived {
		flags |= flagArchived
	}
	return append(v, flags)
}

// indexKeys lists every index key of o, with its bucket.
func (tb tenantBuckets) indexKeys(o *store.Object, fn func(b *bolt.Bucket, k []byte) error) error {
	sfx := suffix(o)
	if err := fn(tb.created, sfx); err != nil {
		return err
	}
	if err := fn(tb.byType, withSuffix(typePrefix(o.ObjectType), sfx)); err != nil {
		return err
	}
	if err := fn(tb.byState, withSuffix(statePrefix(o.State), sfx)); err != nil {
		return err
	}
	for _, name := range o.Names {
		if err := fn(tb.byName, withSuffix(namePrefix(name), sfx)); err != nil {
			return err
		}
	}
	for _, e := range o.Index {
		if err := fn(tb.byEntry, withSuffix(entryPrefix(e), sfx)); err != nil {
			return err
		}
	}
	return nil
}

func (tb tenantBuckets) putIndexes(o *store.Object) error {
	v := summary(o)
	return tb.indexKeys(o, func(b *bolt.Bucket, k []byte) error { return b.Put(k, v) })
}

// replaceIndexes moves an updated object's index entries from old to rec.
// When the entries' value (type, state, archived flag) is unchanged, only
// the keys that differ are deleted or put: an update that changes no
// indexed value (a Get's Fresh flag, most attribute edits) touches no
// index page, so its commit writes fewer pages.
func (tb tenantBuckets) replaceIndexes(old, rec *store.Object) error {
	v := summary(rec)
	if !bytes.Equal(summary(old), v) {
		if err := tb.deleteIndexes(old); err != nil {
			return err
		}
		return tb.putIndexes(rec)
	}
	type entry struct {
		b *bolt.Bucket
		k []byte
	}
	var before, after []entry
	collect := func(to *[]entry) func(b *bolt.Bucket, k []byte) error {
		return func(b *bolt.Bucket, k []byte) error {
			*to = append(*to, entry{b, k})
			return nil
		}
	}
	_ = tb.indexKeys(old, collect(&before))
	_ = tb.indexKeys(rec, collect(&after))
	has := func(in []entry, e entry) bool {
		return slices.ContainsFunc(in, func(x entry) bool { return x.b == e.b && bytes.Equal(x.k, e.k) })
	}
	for _, e := range before {
		if !has(after, e) {
			if err := e.b.Delete(e.k); err != nil {
				return err
			}
		}
	}
	for _, e := range after {
		if !has(before, e) {
			if err := e.b.Put(e.k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteIndexes removes o's entries; a repeated name or entry was one key
// and deleting it twice is harmless.
func (tb tenantBuckets) deleteIndexes(o *store.Object) error {
	return tb.indexKeys(o, func(b *bolt.Bucket, k []byte) error { return b.Delete(k) })
}

// scan is one index range: the keys of b that start with prefix.
type scan struct {
	b      *bolt.Bucket
	prefix []byte
}

// source is a set of objects that an index gives: those with a key in at
// least one of its scans (one scan, or several for States).
type source []scan

func (src source) has(sfx []byte) bool {
	for _, s := range src {
		if s.b.Get(withSuffix(s.prefix, sfx)) != nil {
			return true
		}
	}
	return false
}

// cursorIter walks one scan backwards.
type cursorIter struct {
	c       *bolt.Cursor
	prefix  []byte
	k, v    []byte
	started bool
	done    bool
}

func (it *cursorIter) advance() {
	var k, v []byte
	if !it.started {
		it.started = true
		k, v = seekLast(it.c, it.prefix)
	} else {
		k, v = it.c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, it.prefix) {
		it.done, it.k, it.v = true, nil, nil
		return
	}
	it.k, it.v = k, v
}

func (it *cursorIter) suffix() []byte { return it.k[len(it.prefix):] }

// iter merges the scans of a source, newest first; an object found in
// several scans comes out once.
type iter struct {
	its []*cursorIter
}

func (src source) iter() *iter {
	it := &iter{its: make([]*cursorIter, len(src))}
	for i, s := range src {
		it.its[i] = &cursorIter{c: s.b.Cursor(), prefix: s.prefix}
		it.its[i].advance()
	}
	return it
}

// next returns the next suffix (ts(8) id) and summary; ok=false at the end.
// The slices are bbolt's and valid only in the transaction.
func (it *iter) next() (sfx, v []byte, ok bool) {
	var best *cursorIter
	for _, c := range it.its {
		if !c.done && (best == nil || bytes.Compare(c.suffix(), best.suffix()) > 0) {
			best = c
		}
	}
	if best == nil {
		return nil, nil, false
	}
	sfx, v = best.suffix(), best.v
	for _, c := range it.its {
		if !c.done && bytes.Equal(c.suffix(), sfx) {
			c.advance()
		}
	}
	return sfx, v, true
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

// plan is a ListQuery turned into index sources for one transaction.
type plan struct {
	q    store.ListQuery
	tb   tenantBuckets
	srcs []source
}

func newPlan(tb tenantBuckets, q store.ListQuery) *plan {
	p := &plan{q: q, tb: tb}
	if q.Name != "" {
		p.srcs = append(p.srcs, source{{tb.byName, namePrefix(q.Name)}})
	}
	for _, e := range q.Match {
		p.srcs = append(p.srcs, source{{tb.byEntry, entryPrefix(e)}})
	}
	if q.ObjectType != 0 {
		p.srcs = append(p.srcs, source{{tb.byType, typePrefix(q.ObjectType)}})
	}
	if q.State != 0 {
		p.srcs = append(p.srcs, source{{tb.byState, statePrefix(q.State)}})
	}
	if len(q.States) > 0 {
		var src source
		seen := map[uint32]bool{}
		for _, st := range q.States {
			if !seen[st] {
				seen[st] = true
				src = append(src, scan{tb.byState, statePrefix(st)})
			}
		}
		p.srcs = append(p.srcs, src)
	}
	return p
}

// candidate is one object the walk found: its suffix, its summary, and
// (once read) its record.
type candidate struct {
	sfx, v []byte
	rec    *store.Object
}

func (c *candidate) id() string { return string(c.sfx[suffixTimeLen:]) }

func (p *plan) load(c *candidate) (*store.Object, error) {
	if c.rec == nil {
		o, err := p.tb.get(p.q.TenantID, c.id())
		if err != nil {
			return nil, fmt.Errorf("index entry for %q: %w", c.id(), err)
		}
		c.rec = o
	}
	return c.rec, nil
}

// walk calls emit for every object matching the query, newest first, until
// emit returns stop.
func (p *plan) walk(ctx context.Context, emit func(c *candidate) (stop bool, err error)) error {
	if p.q.ID != "" {
		return p.walkID(emit)
	}
	driver := -1
	var it *iter
	switch len(p.srcs) {
	case 0:
		it = source{{p.tb.created, nil}}.iter()
	case 1:
		driver = 0
	default:
		var err error
		if driver, err = p.smallest(ctx); err != nil {
			return err
		}
	}
	if driver >= 0 {
		it = p.srcs[driver].iter()
	}
	for seen := 1; ; seen++ {
		// A query over a large tenant can run long: stop when the
		// caller has gone.
		if seen%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		sfx, v, ok := it.next()
		if !ok {
			return nil
		}
		c := &candidate{sfx: sfx, v: v}
		match, err := p.check(c, driver)
		if err != nil {
			return err
		}
		if !match {
			continue
		}
		if stop, err := emit(c); stop || err != nil {
			return err
		}
	}
}

// walkID answers a query with an ID: at most one candidate, read directly.
func (p *plan) walkID(emit func(c *candidate) (bool, error)) error {
	if p.tb.records.Get([]byte(p.q.ID)) == nil {
		return nil
	}
	o, err := p.tb.get(p.q.TenantID, p.q.ID)
	if err != nil {
		return err
	}
	c := &candidate{sfx: suffix(o), v: summary(o), rec: o}
	match, err := p.check(c, -1)
	if err != nil || !match {
		return err
	}
	_, err = emit(c)
	return err
}

// smallest returns the source with the fewest entries, found by stepping
// all of them in turn until one ends: the cost is the number of sources
// times the smallest count, however large the others are.
func (p *plan) smallest(ctx context.Context) (int, error) {
	its := make([]*iter, len(p.srcs))
	for i, src := range p.srcs {
		its[i] = src.iter()
	}
	for round := 1; ; round++ {
		if round%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		for i, it := range its {
			if _, _, ok := it.next(); !ok {
				return i, nil
			}
		}
	}
}

// check applies every filter but the driver's own to a candidate.
func (p *plan) check(c *candidate, driver int) (bool, error) {
	q := &p.q
	if len(c.v) != summaryLen || len(c.sfx) <= suffixTimeLen {
		return false, fmt.Errorf("index entry %x: %w", c.sfx, errCorrupt)
	}
	objectType := binary.BigEndian.Uint32(c.v[:4])
	state := binary.BigEndian.Uint32(c.v[4:8])
	archived := c.v[8]&flagArchived != 0
	switch {
	case q.ObjectType != 0 && objectType != q.ObjectType,
		q.State != 0 && state != q.State,
		len(q.States) > 0 && !slices.Contains(q.States, state),
		slices.Contains(q.NotStates, state),
		q.Storage == store.StorageOnline && archived,
		q.Storage == store.StorageArchived && !archived:
		return false, nil
	}
	for i, src := range p.srcs {
		if i != driver && !src.has(c.sfx) {
			return false, nil
		}
	}
	if q.Filter == nil {
		return true, nil
	}
	o, err := p.load(c)
	if err != nil {
		return false, err
	}
	// The filter gets a copy: what it changes stays out of the results.
	return q.Filter(store.CloneObject(o)), nil
}

// ListObjects implements store.Store. It walks the most selective index of
// the one tenant backwards (see plan.walk), checks the other filters per
// candidate, and reads only the records that a Filter needs or that it
// returns.
func (s *Store) ListObjects(ctx context.Context, q store.ListQuery) ([]*store.Object, error) {
	if q.TenantID == "" {
		return nil, errors.New("bbolt: list objects: empty tenant id")
	}
	out := []*store.Object{}
	err := s.view(ctx, fmt.Sprintf("list objects %q", q.TenantID), func(tx *bolt.Tx) error {
		tb, ok, err := openTenant(tx, q.TenantID)
		if err != nil || !ok {
			return err
		}
		p := newPlan(tb, q)
		skip := max(q.Offset, 0)
		return p.walk(ctx, func(c *candidate) (bool, error) {
			if skip > 0 {
				skip--
				return false, nil
			}
			if q.IDsOnly && c.rec == nil {
				out = append(out, &store.Object{
					TenantID: q.TenantID, ID: c.id(), CreatedAt: timeFromKey(c.sfx),
					ObjectType: binary.BigEndian.Uint32(c.v[:4]), State: binary.BigEndian.Uint32(c.v[4:8]),
					Archived: c.v[8]&flagArchived != 0,
				})
			} else {
				o, err := p.load(c)
				if err != nil {
					return true, err
				}
				out = append(out, o)
			}
			return q.Limit > 0 && len(out) == q.Limit, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountObjects implements store.Store, walking as ListObjects does but
// reading records only for a Filter.
func (s *Store) CountObjects(ctx context.Context, q store.ListQuery) (int, error) {
	if q.TenantID == "" {
		return 0, errors.New("bbolt: count objects: empty tenant id")
	}
	n := 0
	err := s.view(ctx, fmt.Sprintf("count objects %q", q.TenantID), func(tx *bolt.Tx) error {
		tb, ok, err := openTenant(tx, q.TenantID)
		if err != nil || !ok {
			return err
		}
		return newPlan(tb, q).walk(ctx, func(*candidate) (bool, error) {
			n++
			return false, nil
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
