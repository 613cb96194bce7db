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
// appended to its own file, on disk before Record returns.
//
// Record calls from many goroutines are committed in groups: one writer
// goroutine takes every record waiting, writes them with one write and
// one fsync, then releases their callers. Under load a batch of KMIP
// requests costs one fsync, not one each; alone, a record costs one.
//
// The sink writes records of its own (Source SourceAudit): OpStart when it
// opens, OpStop when it closes, and OpRecovered when it found the log's
// last line torn by a crash: that file is closed as it is (the torn bytes
// stay as evidence) and the record that begins the next one names it, so
// the chain stays verifiable and the gap is on the record.
type Sink struct {
	opts  Options
	chain *chain

	lockFile *os.File // PATH.lock, held while open

	// Owned by the writer goroutine once Open returns.
	f         *os.File
	activeNum int   // the number the active file gets when it is rotated
	size      int64 // bytes of whole records in the active file
	seq       uint64
	mac       []byte
	broken    error // set once the file's state is unknown: every later record fails
	buf       []byte
	// commits counts the writes (each with its fsync) that made records
	// durable; records/commits is the group commit's gain.
	commits  atomic.Uint64
	records  atomic.Uint64
	failures atomic.Uint64 // records whose write failed

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
	recovered, err := s.resume()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.f = f
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.size = st.Size()
	if s.size == 0 {
		if err := syncDir(opts.Path); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
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
// the active segment's chain checked. It returns the torn tail that the
// next record must acknowledge, if the log ends in one.
func (s *Sink) resume() (*Torn, error) {
	segs, err := segments(s.opts.Path)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		s.activeNum = 1
		return nil, nil
	}
	if s.logID, err = firstLogID(s.opts.Path); err != nil {
		return nil, fmt.Errorf("%w; run `kmipctl audit verify`", err)
	}
	w := newWalker(s.chain)
	last := segs[len(segs)-1]
	if len(segs) > 1 {
		// The state at the end of the previous segment, taken as it is:
		// its own chain was checked when it was the active one.
		prev := segs[len(segs)-2]
		var lastLine []byte
		tail, err := readLines(prev.Path, func(_ int, line []byte) error {
			lastLine = append(lastLine[:0], line...)
			return nil
		})
		if err != nil {
			return nil, err
		}
		r, _, mac, err := parseLine(lastLine)
		if err != nil {
			return nil, fmt.Errorf("audit: the log cannot be extended: the last line of %s is not a record; run `kmipctl audit verify`", prev.Path)
		}
		w.prev, w.next = mac, r.Seq+1
		if tail != nil {
			tail.Segment = prev.Num
			w.torn = tail
		}
	}
	problem, tail, err := w.walkSegment(last, nil)
	if err != nil {
		return nil, err
	}
	if problem != nil {
		return nil, fmt.Errorf("audit: the log cannot be extended: %v; run `kmipctl audit verify`, and move the log's files aside to begin a new log", problem)
	}
	s.seq, s.mac = w.next-1, w.prev
	s.activeNum = last.Num
	if !last.Active {
		s.activeNum = last.Num + 1
	}
	// A torn tail of the previous segment that the (empty) active one has
	// not acknowledged yet: the crash came between the two.
	recovered := w.torn
	if tail != nil {
		tail.Segment = last.Num
		recovered = tail
		if last.Active {
			if err := os.Rename(last.Path, segmentName(s.opts.Path, last.Num)); err != nil {
				return nil, fmt.Errorf("audit: set the torn segment aside: %w", err)
			}
			if err := syncDir(s.opts.Path); err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
			s.activeNum = last.Num + 1
		}
	}
	return recovered, nil
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

// finish writes the stop record and closes the file.
func (s *Sink) finish() error {
	err := s.write([]Record{{Event: Event{Source: SourceAudit, Operation: OpStop, Result: "success", Reason: "log closed"}}})
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: %w", cerr)
	}
	s.lockFile.Close()
	return err
}

// write chains recs on, appends them with one write and makes them
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
	n, err := s.f.Write(buf)
	if err != nil {
		// Nothing was acknowledged: cut the file back to its last whole
		// record so that the chain stays valid, and let the next records
		// try again (a full disk may get space back).
		if terr := s.f.Truncate(s.size); terr != nil {
			s.broken = fmt.Errorf("audit: write %s: %w; cutting back the partial write failed too (%v): the log is no longer written", s.opts.Path, err, terr)
			return s.broken
		}
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
	s.seq, s.mac, s.size = seq, append(s.mac[:0], prev...), s.size+int64(n)
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
	if !s.opts.NoSync {
		if err := s.f.Sync(); err != nil {
			s.broken = fmt.Errorf("audit: fsync %s: %w", s.opts.Path, err)
			return
		}
	}
	if err := os.Rename(s.opts.Path, closed); err != nil {
		return
	}
	f, err := os.OpenFile(s.opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = syncDir(s.opts.Path)
	}
	if err != nil {
		s.broken = fmt.Errorf("audit: begin a new segment after %s: %w", closed, err)
		return
	}
	s.f.Close()
	s.f, s.size = f, 0
	s.activeNum++
}
