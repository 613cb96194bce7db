package ops

import (
	"context"
	"math/rand/v2"
	"time"
)

// Lost-update retries: an attribute change that finds the object changed
// since it read it (store.ErrConflict: another client, or another node on
// the same database, wrote in between) reads it again and re-applies the
// change. Retrying at once makes writers that collided collide again;
// waiting a random, growing time spreads them out.
const (
	// updateAttempts bounds the reads-and-writes of one change.
	updateAttempts = 10
	// retryBase is the first wait's upper bound; each next one doubles,
	// up to retryMax.
	retryBase = 2 * time.Millisecond
	retryMax  = 100 * time.Millisecond
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
