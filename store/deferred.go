package store

import (
	"context"
	"sync"
)

// Deferred durability. A write is answered only once it is durable, and
// its audit record only once that record is on disk; done one after the
// other, an operation waits for two disk syncs in turn. A caller that
// waits for the durability of the writes itself (the KMIP executor, which
// then waits for the store and the audit log together) asks for it with
// WithDeferredDurability: a store that supports it may then return from
// CreateObject and UpdateObject (only: callers act on other writes at
// once, a tenant's KEK is cached once its record is written) as soon as
// the write is in a transaction whose commit can only still fail as a
// whole (its checks passed and it is being written), and hand the wait
// for the commit to the Deferred. Whoever asks for it must do nothing
// after such a write that a failed commit could not take back: the
// executor asks only for operations whose store write is their last act.
//
// Every later call of the store with the same context waits for those
// commits first (and fails with their error), so an operation reads its
// own writes exactly as before. Stores that do not support it ignore it
// and return durable, as always; Wait then returns nil at once.

// Deferred collects the pending commits of the writes made with one
// context.
type Deferred struct {
	mu    sync.Mutex
	waits []func() error
	err   error // the first commit that failed; it stays failed
}

type deferredKey struct{}

// WithDeferredDurability returns a context whose store writes may return
// before they are durable, and the Deferred that waits for them. The
// caller must call Wait before it tells anyone that a write happened.
func WithDeferredDurability(ctx context.Context) (context.Context, *Deferred) {
	d := &Deferred{}
	return context.WithValue(ctx, deferredKey{}, d), d
}

// DeferredFrom returns the Deferred of ctx, or nil: writes with ctx are
// then durable when they return.
func DeferredFrom(ctx context.Context) *Deferred {
	d, _ := ctx.Value(deferredKey{}).(*Deferred)
	return d
}

// Defer adds the wait for a commit: wait blocks until the commit holding
// a write is durable, or returns why it failed.
func (d *Deferred) Defer(wait func() error) {
	d.mu.Lock()
	d.waits = append(d.waits, wait)
	d.mu.Unlock()
}

// Wait returns once every deferred commit is durable, or with the first
// error among them; a failed commit keeps failing every later Wait.
func (d *Deferred) Wait() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.waits {
		if err := w(); err != nil && d.err == nil {
			d.err = err
		}
	}
	d.waits = nil
	return d.err
}

// Pending reports whether writes wait for their commit.
func (d *Deferred) Pending() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.waits) > 0
}
