package pkcs11

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Hung members. A PKCS#11 call cannot be cancelled: a network HSM (or the
// p11-kit server in front of one) that stops answering without closing
// its connection (a frozen process, a silent network path) leaves every
// call on it waiting, and every later call with it. The set does not wait
// for such a member:
//
//   - Each member counts the calls in flight on it and notes when one
//     last returned (callWatch). A member with calls in flight none of
//     which has returned for call_timeout is taken out of the set as hung
//     at the next health check; requests then go to the other members,
//     or fail at once when none works. The calls already waiting on it
//     stay blocked until the HSM answers or the connection breaks: a call
//     in C cannot be abandoned.
//   - Health checks and the tries to bring a member back run in
//     goroutines of their own, one at a time per member, so that a member
//     that hangs them cannot stop the prober from watching and repairing
//     the others.
//   - On a module that takes one call at a time (p11-kit-client,
//     serial.go) a call waits at most call_timeout for its turn, then
//     fails with errHung: requests queued behind a hung call fail over
//     instead of queueing forever.
//
// A slow member is not a hung one: while any of its calls returns, it
// stays in (call_timeout is meant to be longer than the slowest call, an
// RSA key generation).

// callWatch counts a member's calls in flight and notes when one last
// returned or, when none was in flight, when the first of the current
// ones began. Two atomic operations and a clock read per call: it sits on
// every request's path.
type callWatch struct {
	inFlight atomic.Int64
	progress atomic.Int64 // unix nanoseconds: the last return, or the start of a busy spell
}

func (w *callWatch) begin() {
	// The start of a busy spell is noted before the call counts, so that
	// stalled never sees a call in flight beside the time of a return
	// long ago. Only then: a call joining others must not refresh it, or
	// new calls would hide the hung ones.
	if w.inFlight.Load() == 0 {
		w.progress.Store(time.Now().UnixNano())
	}
	w.inFlight.Add(1)
}

func (w *callWatch) end() {
	w.progress.Store(time.Now().UnixNano())
	w.inFlight.Add(-1)
}

// stalled reports how long calls have been in flight on the member with
// none of them returning (0 when none is in flight) and how many.
func (w *callWatch) stalled(at time.Time) (time.Duration, int64) {
	n := w.inFlight.Load()
	if n <= 0 {
		return 0, 0
	}
	return at.Sub(time.Unix(0, w.progress.Load())), n
}

// errHung is why a hung member was taken out, or why a call gave up
// waiting for its turn on a module whose one call in flight does not
// return. It is a member fault (wrapped in lost).
type errHung struct {
	waited   time.Duration
	inFlight int64 // 0 when a call gave up waiting for its turn
}

func (e errHung) Error() string {
	if e.inFlight == 0 {
		return fmt.Sprintf("pkcs11: the module's call in progress has not returned for %s (call_timeout): hung", e.waited.Round(timeRound))
	}
	return fmt.Sprintf("pkcs11: %d call(s) in flight, none returned for %s (call_timeout): hung", e.inFlight, e.waited.Round(timeRound))
}
