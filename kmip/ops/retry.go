package ops

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Lost-update retries: an attribute change that finds the object changed
// since it read it (store.ErrConflict: another client, or another node on
// the same database, wrote in between) reads it again and re-applies the
// change. Retrying at once makes writers that collided collide again;
// waiting a random, growing time spreads them out.
const (
	// updateAttempts bounds the reads-and-writes of one change. Within a
	// node the writers of one object queue (objectLocks), so the ones that
	// collide are nodes: a loser whose every attempt meets another node's
	// write is rare (each attempt loses about half the time at worst) but
	// a queue on the other node can keep writing back to back, hence many
	// cheap attempts rather than a few.
	updateAttempts = 32
	// retryBase is the first wait's upper bound; each next one doubles,
	// up to retryMax (32 attempts wait 1.5 s at most in all).
	retryBase = 2 * time.Millisecond
	retryMax  = 50 * time.Millisecond
)

// retryDelay is the wait before retry attempt+1: "equal jitter", half of
// the exponential bound fixed and half random, so that no wait is near
// zero and colliding writers drift apart.
func retryDelay(attempt int) time.Duration {
	bound := retryBase << min(attempt, 16)
	if bound > retryMax || bound <= 0 {
		bound = retryMax
	}
	half := bound / 2
	return half + rand.N(half+1) //nolint:gosec // jitter, not a secret
}

// backoff waits before retry attempt+1, or returns false when ctx ends
// first.
func (s *Service) backoff(ctx context.Context, attempt int) bool {
	t := time.NewTimer(retryDelay(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// objectLocks queues the changes this node makes to one object, so that
// its own clients do not collide on it: under contention (many clients of
// one node changing one key) only the nodes race, not every client, and
// the optimistic write of the store settles the rest. A change inside a
// transaction does not queue: it may hold the store's lock on an object
// that a queued writer waits for.
type objectLocks struct {
	mu sync.Mutex
	m  map[string]*objectLock
}

type objectLock struct {
	sync.Mutex
	users int // holders and waiters; the entry goes when none is left
}

// lock takes the lock of the tenant's object id and returns its release.
func (l *objectLocks) lock(tenant, id string) (unlock func()) {
	key := tenant + "\x00" + id
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*objectLock{}
	}
	o := l.m[key]
	if o == nil {
		o = &objectLock{}
		l.m[key] = o
	}
	o.users++
	l.mu.Unlock()
	o.Lock()
	return func() {
		o.Unlock()
		l.mu.Lock()
		if o.users--; o.users == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}
