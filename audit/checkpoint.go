package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Checkpoints of the chain head. Records cut off the end of a log leave no
// break in its chain; what shows the cut is a head noted somewhere the
// log's host cannot rewrite alone. The sink writes its head to a
// HeadWriter (the shared store: StoreHeads) every HeadEvery records or
// every HeadInterval, whichever comes first, and when it closes; `kmipctl
// audit verify` checks the log against the stored head. An attacker who
// cuts the log's end can therefore remove unnoticed only what was written
// after the last checkpoint: at most HeadEvery records, or HeadInterval's
// worth (plus the time one checkpoint write takes).
//
// A checkpoint per record would cost a store round trip per group commit
// (the store's write, then the fsync's); once a second it costs one small
// write per second per node whatever the load.

// Checkpoint cadence defaults.
const (
	DefaultHeadEvery    = 1000
	DefaultHeadInterval = time.Second
	// headWriteTimeout bounds one checkpoint write.
	headWriteTimeout = 5 * time.Second
)

// LogHead is a log's chain head as a checkpoint holds it.
type LogHead struct {
	// LogID names the log: its first record's MAC, shortened (LogID).
	LogID string `json:"-"`
	Seq   uint64 `json:"seq"`
	// MAC is the head record's MAC in hex.
	MAC string `json:"mac"`
	// Time is when the head record was written.
	Time time.Time `json:"time"`
	// Path is the log's active file on the node that wrote it.
	Path string `json:"path,omitempty"`
}

// Head returns the head as VerifyHead takes it.
func (h LogHead) Head() Head { return Head{Seq: h.Seq, MAC: h.MAC} }

// HeadWriter keeps a log's latest head (StoreHeads).
type HeadWriter interface {
	WriteHead(ctx context.Context, h LogHead) error
}

// logIDBytes is how much of the first record's MAC names a log: enough
// that two logs never share it (every log's first record differs at
// least in its time, and its MAC is keyed).
const logIDBytes = 16

func logIDOf(firstMAC []byte) string { return hex.EncodeToString(firstMAC[:logIDBytes]) }

// LogID returns the id of the log at path: its first record's MAC,
// shortened, read without checking it (verification does).
func LogID(path string) (string, error) {
	id, err := firstLogID(path)
	if err == nil && id == "" {
		err = fmt.Errorf("audit: the log at %s holds no record", path)
	}
	return id, err
}

// firstLogID is LogID, "" for a log without a whole record yet. Record 1
// is the first whole line of the first segment that has one (a segment
// may hold only a torn line, set aside after a crash).
func firstLogID(path string) (string, error) {
	segs, err := segments(path)
	if err != nil {
		return "", err
	}
	for _, seg := range segs {
		var id string
		_, err = readLines(seg.Path, func(_ int, line []byte) error {
			r, _, mac, err := parseLine(line)
			if err != nil || r.Seq != 1 {
				return fmt.Errorf("audit: %s does not begin with record 1", seg.Path)
			}
			id = logIDOf(mac)
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return "", err
		}
		if id != "" {
			return id, nil
		}
	}
	return "", nil
}

// checkpointer writes the sink's head to a HeadWriter off the writer
// goroutine: the writer only notes the head and, every HeadEvery records,
// nudges it.
type checkpointer struct {
	w        HeadWriter
	every    uint64
	interval time.Duration
	onError  func(error)

	mu      sync.Mutex
	head    LogHead // the latest durable record
	written uint64  // the Seq of the last head written
	failed  bool    // the last write failed (reported once per streak)
	// writes and failures count WriteHead's outcomes (metrics.go).
	writes, failures uint64

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newCheckpointer(opts Options) *checkpointer {
	if opts.Heads == nil {
		return nil
	}
	c := &checkpointer{
		w: opts.Heads, every: uint64(max(opts.HeadEvery, 0)), interval: opts.HeadInterval, onError: opts.OnHeadError,
		head: LogHead{Path: opts.Path},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if c.every == 0 {
		c.every = DefaultHeadEvery
	}
	if c.interval <= 0 {
		c.interval = DefaultHeadInterval
	}
	return c
}

// noted is called by the writer after each durable write.
func (c *checkpointer) noted(logID string, seq uint64, mac []byte, at time.Time) {
	c.mu.Lock()
	c.head.LogID, c.head.Seq, c.head.MAC, c.head.Time = logID, seq, hex.EncodeToString(mac), at
	due := seq-c.written >= c.every
	c.mu.Unlock()
	if due {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		kicked := false
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.kick:
			kicked = true
		}
		c.write(kicked)
	}
}

// write stores the current head if it moved since the last write; for a
// kick, only if it is still HeadEvery records ahead (a kick sent while the
// previous write was under way may have been served by it).
func (c *checkpointer) write(kicked bool) {
	c.mu.Lock()
	h := c.head
	stale := h.Seq - c.written
	c.mu.Unlock()
	if h.LogID == "" || stale == 0 || (kicked && stale < c.every) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), headWriteTimeout)
	err := c.w.WriteHead(ctx, h)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !c.failed && c.onError != nil {
			c.onError(fmt.Errorf("audit: store the chain head (record %d): %w", h.Seq, err))
		}
		c.failed = true
		c.failures++
		return
	}
	c.written, c.failed = h.Seq, false
	c.writes++
}

// stats returns the counts of head writes, and how many records the log
// holds beyond the stored head.
func (c *checkpointer) stats() (writes, failures, lag uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.failures, c.head.Seq - c.written
}

// close stops the ticker and writes the final head (the stop record).
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
	c.write(false)
}
