package store

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Write-behind for the writes of one KMIP message. vCenter adds three
// attributes to a new key in one message of three Add Attribute items;
// each item writes the object, and written one after the other that is
// three store commits in turn, each waiting for the one before. A caller
// that can run the message again from the start (the KMIP executor, for
// a message whose items only read and edit existing objects) asks for
// write-behind with WithWriteBehind: a store that supports it then holds
// UpdateObject writes back instead of committing them, hands the held
// object to GetObject calls of the same context (an item reads what the
// item before it wrote), and commits everything held in one transaction
// when the caller calls Flush, before anything is answered.
//
// A store call with the context that is not GetObject or UpdateObject
// (a search by name, say, whose index must show the held writes) flushes
// first; after the first flush, writes go to the store directly, as
// without write-behind. So at most one flush holds writes, and when it
// fails nothing of the message was committed: if a held write was
// refused when it was finally applied (another client wrote the object
// in between: a conflict), Retry reports it and the caller runs the
// message again without write-behind; any other failure fails the
// message. Stores that do not support it ignore it and write at once;
// Flush then returns nil.

// WriteBehind holds the writes of one message (see above).
type WriteBehind struct {
	mu      sync.Mutex
	held    map[objectKey]*Object // what GetObject returns for them
	writes  []any                 // the held writes, in order, in their store's form
	commit  CommitHeld
	flushed bool
	err     error // the flush's
}

// CommitHeld is a store's function that applies held writes, in order, in
// one transaction. It returns once they are applied and the transaction
// is being committed: an error then is the writes' own, and nothing was
// committed. wait returns once the commit is durable, or why it failed;
// it is nil when the writes were durable on return already.
type CommitHeld func(writes []any) (wait func() error, err error)

type objectKey struct{ tenant, id string }

type writeBehindKey struct{}

// WithWriteBehind returns a context whose object updates a store may hold
// back until Flush, and the WriteBehind that holds them.
func WithWriteBehind(ctx context.Context) (context.Context, *WriteBehind) {
	w := &WriteBehind{}
	return context.WithValue(ctx, writeBehindKey{}, w), w
}

// WriteBehindFrom returns the WriteBehind of ctx, or nil.
func WriteBehindFrom(ctx context.Context) *WriteBehind {
	w, _ := ctx.Value(writeBehindKey{}).(*WriteBehind)
	return w
}

// Holding reports whether writes may still be held: no flush happened.
func (w *WriteBehind) Holding() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.flushed
}

// Hold records a held write: o as the store will have it once the write
// is applied, write in the store's own form, and commit, the store's
// function that applies and commits held writes in order in one
// transaction (one store holds the writes of a context). It returns false
// if a flush already happened: the store then writes at once.
func (w *WriteBehind) Hold(o *Object, write any, commit CommitHeld) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushed {
		return false
	}
	if w.held == nil {
		w.held = map[objectKey]*Object{}
	}
	w.held[objectKey{o.TenantID, o.ID}] = CloneObject(o)
	w.writes = append(w.writes, write)
	w.commit = commit
	return true
}

// Held returns a copy of the object as the held writes left it, or nil
// when none of them wrote it.
func (w *WriteBehind) Held(tenantID, id string) *Object {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushed {
		return nil
	}
	if o := w.held[objectKey{tenantID, id}]; o != nil {
		return CloneObject(o)
	}
	return nil
}

// ErrHeldWriteRefused marks a held write that its store refused when it
// was applied (the object changed or went away since it was read): the
// message runs again without write-behind.
var ErrHeldWriteRefused = errors.New("a held write was refused")

// Flush commits the held writes (durably, in one transaction) and ends
// holding: later writes of the context go to the store at once. It
// returns the flush's error on every later call too.
func (w *WriteBehind) Flush() error {
	wait, err := w.FlushDeferred()
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// FlushDeferred is Flush for a caller that waits for the commit itself,
// alongside other work (the executor writes the message's audit records
// meanwhile): it returns once the held writes are applied and being
// committed. An error is the writes' own (Retry tells a refusal), and
// nothing was committed; otherwise wait, when not nil, returns once the
// commit is durable, or why it failed, and must be called before anything
// is answered.
func (w *WriteBehind) FlushDeferred() (wait func() error, err error) {
	if w == nil {
		return nil, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushed {
		return nil, w.err
	}
	w.flushed = true
	if len(w.writes) > 0 {
		var commitWait func() error
		if commitWait, w.err = w.commit(w.writes); commitWait != nil {
			wait = func() error {
				err := commitWait()
				if err != nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
				}
				return err
			}
		}
	}
	w.held, w.writes, w.commit = nil, nil, nil
	return wait, w.err
}

// Retry reports whether the flush failed because a held write was
// refused: nothing of the message was committed, and running it again
// without write-behind is safe.
func (w *WriteBehind) Retry() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Is(w.err, ErrHeldWriteRefused)
}

// CloneObject is a deep copy of o: a held object must not share memory
// with what its callers go on to change.
func CloneObject(o *Object) *Object {
	c := *o
	c.Names = slices.Clone(o.Names)
	c.Attributes = slices.Clone(o.Attributes)
	c.Material = slices.Clone(o.Material)
	c.MAC = slices.Clone(o.MAC)
	if o.Index != nil {
		c.Index = make([]IndexEntry, len(o.Index))
		for i, e := range o.Index {
			c.Index[i] = IndexEntry{Key: e.Key, Value: slices.Clone(e.Value)}
		}
	}
	return &c
}
