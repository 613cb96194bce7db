package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log closed")

// Options configure a Sink.
type Options struct {
	// Path is the active log file; closed segments sit beside it as
	// PATH.000001, PATH.000002, ...
	Path string
	// Key is the chain key (KeySize bytes), as OpenKey returns it.
	Key []byte
	// NoSync skips fsync: a record has reached the operating system when
	// Record returns, so it survives a crash of the server but not of the
	// machine.
	NoSync bool
	// MaxSegmentSize rotates the active file once it has grown to this
	// many bytes; 0 never rotates.
	MaxSegmentSize int64
	// Preallocate is the chunk of space (bytes) written with zeros and
	// made durable ahead of the records, so that a record's fdatasync
	// flushes data only (prealloc.go); 0 means DefaultPreallocate, a
	// negative value appends instead. NoSync never preallocates.
	// OnPreallocError is told when a chunk cannot be allocated (a full
	// disk), once until one can: records are appended meanwhile, and
	// fail if the disk has no room for them either.
	Preallocate     int64
	OnPreallocError func(error)
	// MaxBatch bounds the Record calls that share one write and one
	// fsync; 0 means 1024. 1 makes an fsync per call (the baseline the
	// benchmark compares group commit with).
	MaxBatch int
	// Now is the clock for events without a time and for the sink's own
	// records; nil means time.Now.
	Now func() time.Time
	// Heads, when set, receives the chain head every HeadEvery records
	// (0: DefaultHeadEvery) or every HeadInterval (0:
	// DefaultHeadInterval), whichever comes first, and when the sink
	// closes (checkpoint.go). OnHeadError is told when a write fails
	// (once until one succeeds again).
	Heads        HeadWriter
	HeadEvery    int
	HeadInterval time.Duration
	OnHeadError  func(error)
}

// Sink is the durable, chained audit log: one JSON line per record,
// written after the last one in its own file, on disk before Record
// returns. The file is preallocated (prealloc.go): zeros follow the last
// record.
//
// Record calls from many goroutines are committed in groups: one writer
// goroutine takes every record waiting, writes them with one write and
// one fsync, then releases their callers. Under load a batch of KMIP
// requests costs one fsync, not one each; alone, a record costs one.
//
// The sink writes records of its own (Source SourceAudit): OpStart when it
// opens, OpStop when it closes, and OpRecovered when it found the log's
// last record torn by a crash (bytes after the last whole record that are
// not zeros): that file is closed as it is (the torn bytes stay as
// evidence; only the zeros after them are cut off) and the record that
// begins the next one names it, so the chain stays verifiable and the gap
// is on the record.
type Sink struct {
	opts  Options
	chain *chain

	lockFile *os.File // PATH.lock, held while open

	// Owned by the writer goroutine once Open returns.
	f         *os.File
	activeNum int   // the number the active file gets when it is rotated
	size      int64 // bytes of whole records in the active file: the next record's offset
	// alloc is the active file's size: [size, alloc) is unused space,
	// zeros (allocated and durable when the sink preallocated them).
	alloc        int64
	grow         *growth // the chunk being allocated, nil if none
	growFailed   bool    // the last allocation failed, at growFailedAt
	growFailedAt time.Time
	seq          uint64
	mac          []byte
	broken       error // set once the file's state is unknown: every later record fails
	buf          []byte
	// commits counts the writes (each with its fsync) that made records
	// durable; records/commits is the group commit's gain.
	commits  atomic.Uint64
	records  atomic.Uint64
	failures atomic.Uint64 // records whose write failed
	// extends counts the writes that found no unused space left and
	// extended the file (each costs a journal commit): preallocation
	// fell behind, failed (a full disk) or is off.
	extends atomic.Uint64

	mu     sync.RWMutex // closed vs. sends on queue
	closed bool
	queue  chan *pending
	done   chan struct{}
	// closeErr is the writer's last error, read after done closes.
	closeErr error

	// logID names the log (LogID); heads stores its chain head (nil
	// without Options.Heads).
	logID     string
	heads     *checkpointer
	closeOnce sync.Once
}

type pending struct {
	events []Event
	done   chan error
}

var _ BatchRecorder = (*Sink)(nil)

// Open opens (or begins) the log at opts.Path and continues its chain.
//
// It checks the active segment's chain from the end of the one before
// (the whole log is `kmipctl audit verify`'s job) and refuses to extend a
// broken chain. A torn last line, left by a crash in the middle of a
// write, is not extended either: see Sink.
func Open(opts Options) (*Sink, error) {
	if opts.Path == "" {
		return nil, errors.New("audit: no log path")
	}
	c, err := newChain(opts.Key)
	if err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sink{
		opts: opts, chain: c, mac: make([]byte, macSize),
		queue: make(chan *pending, opts.MaxBatch), done: make(chan struct{}),
		heads: newCheckpointer(opts),
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if s.lockFile, err = lock(opts.Path); err != nil {
		return nil, err
	}
	if err := s.open(); err != nil {
		if s.f != nil {
			s.f.Close()
		}
		s.lockFile.Close()
		return nil, err
	}
	go s.run()
	if s.heads != nil {
		go s.heads.run()
	}
	return s, nil
}

// LogID is the id of the log (its first record's MAC, shortened), under
// which its chain head is checkpointed.
func (s *Sink) LogID() string { return s.logID }

// open resumes the chain, opens the active file and writes the first
// records.
func (s *Sink) open() error {
	opts := s.opts
	recovered, end, err := s.resume()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.f = f
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	// The records end at end; the zeros after it (resume checked that
	// only zeros follow) are where the next ones go.
	s.size, s.alloc = end, st.Size()
	switch {
	case s.alloc == 0:
		if err := syncDir(opts.Path); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	case s.alloc > s.size && !opts.NoSync:
		// Space left by the last run, durable or not: make it so.
		if err := f.Sync(); err != nil {
			return fmt.Errorf("audit: fsync %s: %w", opts.Path, err)
		}
	}
	// The first chunk before the first record; the rest comes ahead of
	// need.
	s.preallocate()
	s.collectGrowth(true)
	now := opts.Now().UTC()
	var first []Record
	if recovered != nil {
		first = append(first, Record{Torn: recovered, Event: Event{
			Time: now, Source: SourceAudit, Operation: OpRecovered, Result: "success",
			Reason: fmt.Sprintf("segment %d ended in a torn record of %d bytes at offset %d (a write cut by a crash); it is kept as it is, and this segment continues the chain",
				recovered.Segment, recovered.Bytes, recovered.Offset),
		}})
	}
	start := "new log"
	if s.seq > 0 {
		start = fmt.Sprintf("continuing the chain after record %d", s.seq)
	}
	first = append(first, Record{Event: Event{Time: now, Source: SourceAudit, Operation: OpStart, Result: "success", Reason: start}})
	return s.write(first)
}

// resume reads where the chain stands: the last record of the log, with
// the active segment's chain checked, and the offset in the active file
// where its records end (0 for a new one). It returns the torn tail that
// the next record must acknowledge, if the log ends in one.
func (s *Sink) resume() (*Torn, int64, error) {
	segs, err := segments(s.opts.Path)
	if err != nil {
		return nil, 0, err
	}
	if len(segs) == 0 {
		s.activeNum = 1
		return nil, 0, nil
	}
	if s.logID, err = firstLogID(s.opts.Path); err != nil {
		return nil, 0, fmt.Errorf("%w; run `kmipctl audit verify`", err)
	}
	w := newWalker(s.chain)
	last := segs[len(segs)-1]
	if len(segs) > 1 {
		// The state at the end of the previous segment, taken as it is:
		// its own chain was checked when it was the active one.
		prev := segs[len(segs)-2]
		var lastLine []byte
		se, err := readLines(prev.Path, func(_ int, line []byte) error {
			lastLine = append(lastLine[:0], line...)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		switch r, _, mac, err := parseLine(lastLine); {
		case err == nil:
			w.prev, w.next = mac, r.Seq+1
		case se.lines == 0 && len(segs) == 2:
			// The first segment holds no whole record: the log's first
			// write was cut by a crash. The chain begins in this one.
		default:
			return nil, 0, fmt.Errorf("audit: the log cannot be extended: the last line of %s is not a record; run `kmipctl audit verify`", prev.Path)
		}
		if se.tail != nil {
			se.tail.Segment = prev.Num
			w.expectTorn(se)
		}
	}
	problem, se, err := w.walkSegment(last, nil)
	if err != nil {
		return nil, 0, err
	}
	if problem != nil {
		return nil, 0, fmt.Errorf("audit: the log cannot be extended: %v; run `kmipctl audit verify`, and move the log's files aside to begin a new log", problem)
	}
	s.seq, s.mac = w.next-1, w.prev
	s.activeNum = last.Num
	end := se.end
	if !last.Active {
		s.activeNum = last.Num + 1
		end = 0
	}
	// A torn tail of the previous segment that the (empty) active one has
	// not acknowledged yet: the crash came between the two.
	recovered := w.torn
	if tail := se.tail; tail != nil {
		recovered = tail
		if last.Active {
			if err := setAside(last.Path, segmentName(s.opts.Path, last.Num), tail.Offset+int64(tail.Bytes)); err != nil {
				return nil, 0, err
			}
			s.activeNum = last.Num + 1
			end = 0
		}
	}
	return recovered, end, nil
}

// setAside closes the active file at path, whose records end in a torn
// tail, as the segment closed: only the unused space (zeros) after the
// tail's last byte, at size, is cut off. The next record acknowledges the
// tail.
func setAside(path, closed string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("audit: set the torn segment aside: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(path, closed)
	}
	if err == nil {
		err = syncDir(path)
	}
	if err != nil {
		return fmt.Errorf("audit: set the torn segment aside: %w", err)
	}
	return nil
}

// Record writes e and returns once it is durable.
func (s *Sink) Record(ctx context.Context, e Event) error {
	return s.RecordAll(ctx, []Event{e})
}

// RecordAll writes events, in order, and returns once all are durable.
// They share a write and an fsync with whatever else is waiting. If ctx
// ends first, RecordAll returns its error, and the events may or may not
// be written.
func (s *Sink) RecordAll(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	p := &pending{events: events, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- p:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Commits is the number of writes (each with its fsync) so far.
func (s *Sink) Commits() uint64 { return s.commits.Load() }

// Records is the number of records made durable so far.
func (s *Sink) Records() uint64 { return s.records.Load() }

// ExtendingWrites is the number of writes so far that found no unused
// space left and extended the file.
func (s *Sink) ExtendingWrites() uint64 { return s.extends.Load() }

// Failures is the number of records whose write failed so far (their
// callers got the error).
func (s *Sink) Failures() uint64 { return s.failures.Load() }

// Close writes the OpStop record and closes the file. Records waiting
// are written first; later ones get ErrClosed. Calling it twice is safe.
func (s *Sink) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	<-s.done
	if s.heads != nil {
		s.closeOnce.Do(s.heads.close)
	}
	return s.closeErr
}

// run is the writer goroutine: group commit.
func (s *Sink) run() {
	defer close(s.done)
	batch := make([]*pending, 0, s.opts.MaxBatch)
	var (
		recs   []Record
		expect int           // callers of the last round: its batch and those queued behind it
		linger time.Duration // how long to wait for them
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for p := range s.queue {
		batch = append(batch[:0], p)
		// Let the callers just released by the last commit queue their
		// next records first: they join this commit instead of waiting
		// for the one after.
		runtime.Gosched()
		batch = s.gather(batch, expect, linger, timer)
		recs = recs[:0]
		for _, p := range batch {
			for _, e := range p.events {
				recs = append(recs, Record{Event: e})
			}
		}
		start := time.Now()
		err := s.write(recs)
		took := time.Since(start)
		if err != nil {
			s.failures.Add(uint64(len(recs)))
		}
		for _, p := range batch {
			p.done <- err
		}
		expect = len(batch) + len(s.queue)
		linger = min(took/2, maxLinger)
		clear(recs) // do not keep the events' strings alive
	}
	s.closeErr = s.finish()
}

// maxLinger bounds the wait for the callers of the last round.
const maxLinger = 3 * time.Millisecond

// gather adds to batch what is queued and then waits, up to linger, for
// the callers of the last round (expect of them): those it released come
// back with their next record within moments (16 KMIP connections each
// sending its next Get), and waiting for them makes all of them share one
// fsync, where starting at once with whoever is queued splits them into
// small groups that alternate, each paying a whole fsync. A lone caller
// (expect 1) never waits, and a caller that left costs one linger at
// most: a fraction of an fsync, the time the records would otherwise
// wait behind the commit in progress anyway.
func (s *Sink) gather(batch []*pending, expect int, linger time.Duration, timer *time.Timer) []*pending {
	limit := s.opts.MaxBatch
	for len(batch) < limit {
		select {
		case p, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if len(batch) >= expect || linger <= 0 {
		return batch
	}
	timer.Reset(linger)
	defer timer.Stop()
	for len(batch) < expect && len(batch) < limit {
		select {
		case p, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// finish writes the stop record and closes the file. The unused space
// after the records stays for the next start.
func (s *Sink) finish() error {
	err := s.write([]Record{{Event: Event{Source: SourceAudit, Operation: OpStop, Result: "success", Reason: "log closed"}}})
	s.collectGrowth(true)
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: %w", cerr)
	}
	s.lockFile.Close()
	return err
}

// write chains recs on, writes them with one write after the last
// record (over unused space when there is enough) and makes them
// durable. On failure the chain state stays where it was.
func (s *Sink) write(recs []Record) error {
	if s.broken != nil {
		return s.broken
	}
	buf, prev, seq := s.buf[:0], s.mac, s.seq
	var first []byte // record 1's MAC, which names a new log
	for i := range recs {
		r := &recs[i]
		seq++
		r.Seq = seq
		if r.Time.IsZero() {
			r.Time = s.opts.Now()
		}
		r.Time = r.Time.UTC()
		var err error
		if buf, prev, err = s.chain.encode(buf, prev, r); err != nil {
			return err
		}
		if seq == 1 {
			first = append([]byte(nil), prev...)
		}
	}
	s.buf = buf
	off, end := s.size, s.size+int64(len(buf))
	if end > s.alloc {
		// Past the unused space: this write extends the file, which it
		// may not while a chunk is being written there.
		s.collectGrowth(true)
		if end > s.alloc {
			s.extends.Add(1)
		}
	}
	if _, err := s.f.WriteAt(buf, off); err != nil {
		// Nothing was acknowledged: take the partial write back so that
		// the chain stays valid, and let the next records try again (a
		// full disk may get space back).
		if uerr := s.unwrite(off, len(buf)); uerr != nil {
			s.broken = fmt.Errorf("audit: write %s: %w; taking back the partial write failed too (%v): the log is no longer written", s.opts.Path, err, uerr)
			return s.broken
		}
		s.preallocate()
		return fmt.Errorf("audit: write %s: %w", s.opts.Path, err)
	}
	if !s.opts.NoSync {
		if err := datasync(s.f); err != nil {
			// After a failed fsync the kernel may have dropped the pages:
			// what the file holds is unknown, so nothing more is chained
			// onto it.
			s.broken = fmt.Errorf("audit: fsync %s: %w: the log is no longer written; restart the server", s.opts.Path, err)
			return s.broken
		}
	}
	// prev is the chain's scratch MAC, which the next encode overwrites.
	s.seq, s.mac, s.size = seq, append(s.mac[:0], prev...), end
	s.alloc = max(s.alloc, end)
	if first != nil {
		s.logID = logIDOf(first)
	}
	if s.heads != nil {
		s.heads.noted(s.logID, seq, s.mac, recs[len(recs)-1].Time)
	}
	s.commits.Add(1)
	s.records.Add(uint64(len(recs)))
	if s.opts.MaxSegmentSize > 0 && s.size >= s.opts.MaxSegmentSize {
		s.rotate()
	}
	s.preallocate()
	return nil
}

// rotate closes the active file as the next numbered segment and begins
// a new one; the chain runs on. If the rename fails the active file stays
// in use and rotation is tried again after the next write.
func (s *Sink) rotate() {
	closed := segmentName(s.opts.Path, s.activeNum)
	if _, err := os.Stat(closed); !errors.Is(err, fs.ErrNotExist) {
		return // never overwrite a segment
	}
	// Nothing may write into the file once it is closed; a closed
	// segment keeps its records only, without the unused space.
	s.collectGrowth(true)
	if s.alloc > s.size {
		if err := s.f.Truncate(s.size); err != nil {
			return
		}
		s.alloc = s.size
	}
	if !s.opts.NoSync {
		if err := s.f.Sync(); err != nil {
			s.broken = fmt.Errorf("audit: fsync %s: %w", s.opts.Path, err)
			return
		}
	}
	if err := os.Rename(s.opts.Path, closed); err != nil {
		return
	}
	f, err := os.OpenFile(s.opts.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = syncDir(s.opts.Path)
	}
	if err != nil {
		s.broken = fmt.Errorf("audit: begin a new segment after %s: %w", closed, err)
		return
	}
	s.f.Close()
	s.f, s.size, s.alloc = f, 0, 0
	s.activeNum++
	// A first piece at once, the rest of the chunk in the background.
	if chunk := s.chunk(); chunk > 0 {
		s.startGrowth(min(chunk, firstPiece))
		s.collectGrowth(true)
	}
}
