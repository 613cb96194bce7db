package hpcs

import (
	"fmt"
	"sync"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// breaker is a circuit breaker in front of the KMS: after threshold calls
// in a row that found it unreachable (network errors, 429 and 5xx once
// the retries are spent), calls fail at once for cooldown, so that a dead
// KMS does not hold every KMIP client for the full retry budget. After
// the cooldown one call goes through (half open): success closes the
// circuit, failure opens it for another cooldown.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, now: time.Now}
}

// allow says whether a call may go to the KMS now.
func (b *breaker) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return nil
	}
	now := b.now()
	if now.Before(b.openUntil) || b.probing {
		return fmt.Errorf("KMS circuit open after %d failed calls in a row (next try in %s): %w",
			b.failures, max(b.openUntil.Sub(now), 0).Round(time.Millisecond), backend.ErrUnavailable)
	}
	b.probing = true // this caller is the probe
	return nil
}

// record reports whether a call reached a working KMS.
func (b *breaker) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openUntil = b.now().Add(b.cooldown)
	}
}

// release ends a call that says nothing about the KMS (its caller gave
// up), without counting it either way.
func (b *breaker) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// isOpen says whether calls fail at once now (a metric; a call that would
// be the half-open probe counts as open until it is made).
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures >= b.threshold && (b.now().Before(b.openUntil) || b.probing)
}
