package bbolt

import (
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bounded residency of the store file's map.
//
// bbolt reads through a read-only shared map of the whole file. Every page
// a read touches, and on Linux up to 16 cached neighbours of it
// (fault-around), stays mapped into the process, so after enough random
// reads of a large store the process's resident memory (VmRSS, and the
// memory a container limit counts) holds most of the file. Those pages
// are page cache: dropping them from the process's page tables with
// madvise(MADV_DONTNEED) loses nothing (the file is written with pwrite,
// never through the map; the next read of a dropped page refaults it from
// the page cache, a minor fault, or from disk if the kernel evicted it).
//
// The residency monitor reads the process's resident file pages (RssFile,
// a counter in /proc/self/status: cheap) every second and drops the whole
// map when they exceed the limit. The drop must never touch an address
// range that is no longer bbolt's map: after a remap (the file grew), the
// old range may hold the Go heap, which MADV_DONTNEED would zero. bbolt
// holds its map lock in read mode for the life of every read transaction
// and remaps under that lock in write mode, so each step of the drop runs
// inside a read transaction, on the address bbolt reports in that
// transaction, for the length /proc/self/maps shows the store file mapped
// there, read in that same transaction. The map is dropped in chunks, one
// transaction each, so a remap (and the reads that queue behind a pending
// remap) waits for one chunk at most, not for the whole map.
//
// The whole map is dropped, the top of the B+tree with the rest: measured
// on 100,000 objects (BenchmarkLocateByNameAfterDrop), a Locate by Name
// that refaults every page it reads costs 115 to 200 µs more than one on
// a fully mapped file (20 to 30 µs), once per drop and per path; drops
// come seconds apart, so keeping the hot pages would save a fraction of a
// microsecond per request. The drop itself costs 0.1 to 0.2 ms per MiB
// resident (BenchmarkDropMap, a shared 2-core VM), in this goroutine.

// DefaultResidentCheck is how often the monitor reads the resident file
// pages. At the fastest fill (a few MB of new pages a second) the limit
// is overshot by a few MB at most between checks.
const DefaultResidentCheck = time.Second

// dropChunk is the part of the map dropped in one read transaction:
// zapping 64 MiB of page table entries takes well under a millisecond.
const dropChunk = 64 << 20

// WithResidentLimit bounds the process's resident file pages, nearly all
// of them the store file's map, to about limit bytes: past it the map's
// pages are dropped from the process (they stay in the kernel's page
// cache). 0 leaves them unbounded. It works on Linux; elsewhere it does
// nothing.
func WithResidentLimit(limit int64) Option {
	return func(o *options) {
		if limit > 0 {
			o.residentLimit = limit
		}
	}
}

// withResidentCheck sets the monitor's period and the size of the chunk
// dropped per transaction (tests).
func withResidentCheck(d time.Duration, chunk uintptr) Option {
	return func(o *options) { o.residentCheck, o.dropChunk = d, chunk }
}

// residency is the monitor of one open Store.
type residency struct {
	db       *bolt.DB
	limit    int64
	interval time.Duration
	chunk    uintptr // bytes of the map dropped per read transaction
	file     fileID  // the store file, to recognise its map

	resident atomic.Int64 // RssFile at the last check, bytes
	drops    atomic.Int64 // times the map was dropped
	failures atomic.Int64 // drops that failed (the map was not found, madvise refused)

	afterDrop int64 // RssFile just after the last drop (the monitor's goroutine only)

	stop, done chan struct{}
}

func startResidency(db *bolt.DB, limit int64, interval time.Duration, chunk uintptr) (*residency, error) {
	id, err := identify(db.Path())
	if err != nil {
		return nil, err
	}
	r := &residency{db: db, limit: limit, interval: interval, chunk: chunk, file: id,
		stop: make(chan struct{}), done: make(chan struct{})}
	if !residencySupported {
		close(r.done)
		return r, nil
	}
	go r.run()
	return r, nil
}

func (r *residency) run() {
	defer close(r.done)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			r.check()
		}
	}
}

// check drops the map when the resident file pages exceed the limit. If
// the pages that remain after a drop (the binary, libraries, and what was
// read since) are already above the limit, it waits until the map has
// grown by a sixteenth of the limit again rather than drop an empty map
// every second.
func (r *residency) check() {
	rss, err := residentFileBytes()
	if err != nil {
		return
	}
	r.resident.Store(rss)
	if rss <= r.limit || rss-r.afterDrop < r.limit/16 {
		return
	}
	if err := dropMap(r.db, r.file, r.chunk); err != nil {
		r.failures.Add(1)
		return
	}
	r.drops.Add(1)
	if after, err := residentFileBytes(); err == nil {
		r.afterDrop = after
		r.resident.Store(after)
	}
}

// close stops the monitor; the database is closed after it.
func (r *residency) close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}
