package bbolt

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit. A bbolt commit ends with an fsync, and bbolt has one
// writer at a time, so one transaction per write caps a server at one
// write per fsync whatever the number of clients. The committer runs the
// writes that arrive while a commit is in progress together, in the next
// transaction, with one fsync for all of them; each caller returns only
// once the transaction holding its write is on disk (acknowledged means
// durable, as before).
//
// Unlike bbolt's DB.Batch there is no timer: a write that finds the
// committer idle is committed at once, so a lone client waits for one
// fsync, not for a batching delay.
//
// A write function may run more than once (a batch is retried without the
// write that failed, which then runs alone), so it must only act on the
// transaction and on values it sets afresh each time, as every write of
// this package does.

// maxGroup bounds the writes of one transaction.
const maxGroup = 512

// errSolo tells a caller that its write failed inside a group and is to
// be run alone, so that its error is its own.
var errSolo = errors.New("bbolt: run the write alone")

type write struct {
	fn   func(*bolt.Tx) error
	done chan error
	// applied, when not nil, is told when fn and every other write of its
	// transaction have run without error, as the commit begins: the write
	// can then only fail with the commit as a whole (deferred durability,
	// store.WithDeferredDurability).
	applied chan struct{}
}

type committer struct {
	db *bolt.DB

	mu      sync.Mutex
	pending []write
	closed  bool
	wake    chan struct{} // one token: there is work
	stopped chan struct{}

	// commits counts the group transactions (retries of a group after a
	// failed write included), writes the writes they committed, and
	// commitNanos the time spent in them: what the store's metrics show
	// of group commit (writes per commit, time per commit).
	commits     atomic.Int64
	writes      atomic.Int64
	commitNanos atomic.Int64
	// failCommit, set by tests, fails the next group transaction after
	// its writes applied, as a failed write or fdatasync of the commit
	// would.
	failCommit atomic.Pointer[error]
}

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// update runs fn in a transaction shared with concurrent writes and
// returns once it is durable.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	_, err := c.submit(fn, false)
	return err
}

// updateDeferred runs fn like update, but returns as soon as fn's
// transaction is being committed, with the wait for that commit: an error
// from updateDeferred is fn's own (nothing was written), one from wait is
// the commit's. wait is nil when the write is already durable.
func (c *committer) updateDeferred(fn func(*bolt.Tx) error) (wait func() error, err error) {
	return c.submit(fn, true)
}

func (c *committer) submit(fn func(*bolt.Tx) error, deferred bool) (func() error, error) {
	w := write{fn: fn, done: make(chan error, 1)}
	if deferred {
		w.applied = make(chan struct{}, 1)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.db.Update(fn) // fails: the database is closing
	}
	c.pending = append(c.pending, w)
	c.mu.Unlock()
	c.kick()
	select {
	case err := <-w.done:
		if errors.Is(err, errSolo) {
			err = c.db.Update(fn)
		}
		return nil, err
	case <-w.applied: // never ready when nil
		return func() error { return <-w.done }, nil
	}
}

// close commits what is queued and stops the committer.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.stopped
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.kick()
	<-c.stopped
}

func (c *committer) loop() {
	defer close(c.stopped)
	var (
		expect int           // writers of the last round: the last group and those queued behind it
		linger time.Duration // how long to wait for them
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for range c.wake {
		c.gather(expect, linger, timer)
		c.mu.Lock()
		group := c.pending
		if len(group) > maxGroup {
			group = group[:maxGroup:maxGroup]
		}
		c.pending = c.pending[len(group):]
		if len(c.pending) == 0 {
			c.pending = nil // do not keep a large array alive
		}
		closed := c.closed
		c.mu.Unlock()
		if len(group) == 0 {
			if closed {
				return
			}
			continue
		}
		start := time.Now()
		c.commit(group)
		took := time.Since(start)
		c.commitNanos.Add(int64(took))

		c.mu.Lock()
		expect = len(group) + len(c.pending)
		more := len(c.pending) > 0 || c.closed
		c.mu.Unlock()
		linger = min(took/2, maxLinger)
		if more {
			c.kick()
		}
	}
}

// maxLinger bounds the wait for the writers of the last round.
const maxLinger = 3 * time.Millisecond

// gather waits, before a commit, for the writers the last round had:
// those it acknowledged come back with their next write within moments
// (16 connections creating keys), and waiting for them doubles the
// writes per fsync, where starting at once with whoever is queued splits
// the writers into two alternating half groups. It waits until expect
// writes are queued or linger has passed, so a lone writer (expect 1)
// never waits, and a client that left costs one linger at most.
func (c *committer) gather(expect int, linger time.Duration, timer *time.Timer) {
	if expect < 2 || linger <= 0 {
		return
	}
	deadline := time.Now().Add(linger)
	for {
		c.mu.Lock()
		n, closed := len(c.pending), c.closed
		c.mu.Unlock()
		left := time.Until(deadline)
		if n >= expect || closed || left <= 0 {
			return
		}
		timer.Reset(left)
		select {
		case <-c.wake:
			timer.Stop()
		case <-timer.C:
			return
		}
	}
}

// kick wakes the loop (without blocking: one token is enough).
func (c *committer) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// commit runs group in one transaction. A write that fails is taken out
// and told to run alone; the others are tried again without it, because
// its partial changes are in the transaction that is rolled back.
func (c *committer) commit(group []write) {
	for len(group) > 0 {
		failed := -1
		c.commits.Add(1)
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := safely(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			// Every write applied: only the commit itself can fail now.
			for _, w := range group {
				if w.applied != nil {
					w.applied <- struct{}{}
				}
			}
			if err := c.failCommit.Swap(nil); err != nil {
				return *err
			}
			return nil
		})
		if failed >= 0 {
			group[failed].done <- errSolo
			group = append(group[:failed:failed], group[failed+1:]...)
			continue
		}
		if err == nil {
			c.writes.Add(int64(len(group)))
		}
		for _, w := range group {
			w.done <- err
		}
		return
	}
}

// safely turns a panic of a write into its error, so that one bad write
// cannot stop the committer that every other write waits on.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt: write panicked: %v", r)
		}
	}()
	return fn(tx)
}
