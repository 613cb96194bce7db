package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// The HSM set: which member serves a request, what takes a member out,
// and how it comes back.
//
//   - A request goes to the next working member in turn (round robin).
//     If the member fails in a way that says the member itself is gone
//     (isMemberFault: device error, token or session lost, login lost),
//     the member is taken out and the request runs again on the next
//     working member; the client sees no error while one member works.
//     Other errors (a tampered blob, a missing key, a bad argument) are
//     not the member's fault; a missing key or an unclassified PKCS#11
//     failure is still tried on the next member, since another partition
//     may do better.
//   - With no working member a request fails at once with an error
//     matching backend.ErrUnavailable that says why each member is out.
//   - A background prober tries each member that is out after
//     member_retry, then after twice as long each time, up to
//     member_retry_max. A member whose device was lost is reconnected
//     with C_Finalize and C_Initialize of its module (what a client
//     module such as p11-kit-client or a network HSM's library needs),
//     provided no working member and no other user in the process shares
//     the module; otherwise its slot's sessions are closed and opened
//     again. It is put back once its token is found and the login works.
//   - Every health_interval the prober also checks each working member
//     on its anchor session, so that a member lost while idle is found
//     before a request needs it.
//   - A member whose calls stop returning is taken out as hung
//     (watch.go); checks and tries to bring members back run in
//     goroutines of their own, so that one hung member cannot stall them.
//   - A wrong PIN takes a member out for good: retrying could lock the
//     partition.

// timeRound rounds the durations in messages.
const timeRound = 10 * time.Millisecond

// now is time.Now; a variable so tests can see deterministic messages.
var now = time.Now

// do runs fn on a working member, failing over to the next one while the
// failure is the member's. It returns fn's error when it is not the
// member's fault.
func (b *Backend) do(ctx context.Context, fn func(m *member) error) error {
	n := len(b.members)
	start := int(b.next.Add(1) % uint64(n))
	var (
		last       error
		failedOver bool
		tried      uint32 // members tried in this call, by bit
	)
	for {
		// Pick afresh each time: a member may have come back while the
		// call ran on another one.
		var m *member
		for i := range n {
			c := b.members[(start+i)%n]
			if tried&(1<<(c.idx-1)) == 0 && c.up.Load() {
				m = c
				break
			}
		}
		if m == nil {
			break
		}
		tried |= 1 << (m.idx - 1)
		// Never wait for a member being reconnected (the prober holds it
		// exclusively, perhaps in a call a network HSM does not answer):
		// it is out anyway.
		if !m.use.TryRLock() {
			continue
		}
		if !m.up.Load() { // taken out meanwhile
			m.use.RUnlock()
			continue
		}
		err := fn(m)
		m.use.RUnlock()
		if err == nil {
			m.requests.Add(1)
			if failedOver {
				b.failover.Add(1)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		switch {
		case isMemberFault(err):
			b.markDown(m, err)
			failedOver = true
			if last == nil || isMemberFault(last) {
				last = err
			}
		case errors.Is(err, backend.ErrKeyMissing),
			errors.Is(err, backend.ErrUnavailable) && !errors.Is(err, backend.ErrIntegrity):
			// Perhaps only this partition: try the next one, and keep
			// this error if none does better.
			last = err
		default:
			return err
		}
	}
	if last != nil && !isMemberFault(last) {
		return last
	}
	return fmt.Errorf("%w: pkcs11: no HSM member is available: %s", backend.ErrUnavailable, b.downSummary())
}

// onMember runs fn on one given member if it works (Check looks at each
// member in turn), taking it out if fn shows it is gone.
func (b *Backend) onMember(m *member, fn func() error) (ran bool, err error) {
	if !m.use.TryRLock() {
		return false, nil
	}
	if !m.up.Load() {
		m.use.RUnlock()
		return false, nil
	}
	err = fn()
	m.use.RUnlock()
	if isMemberFault(err) {
		b.markDown(m, err)
	}
	return true, err
}

// markDown takes a working member out after err and wakes the prober.
func (b *Backend) markDown(m *member, err error) {
	if !b.setDown(m, err) {
		return
	}
	b.healthMu.Lock()
	h := m.health
	b.healthMu.Unlock()
	b.logger().Warn().Int("member", m.idx).Str("token", m.spec.TokenLabel).Str("module", m.spec.Module).
		Str("reason", h.cause).Bool("final", h.final).Msg("hsm member down: requests go to the other members")
	b.wakeProber()
}

// setDown records that m is out. It reports whether m was working.
func (b *Backend) setDown(m *member, err error) bool {
	b.healthMu.Lock()
	defer b.healthMu.Unlock()
	wasUp := m.up.Swap(false)
	if !wasUp && !m.health.since.IsZero() {
		return false
	}
	t := now()
	m.health = memberHealth{
		since:    t,
		cause:    err.Error(),
		reason:   err.Error(),
		failures: 0,
		next:     t.Add(b.cfg.MemberRetry),
		reinit:   true,
		final:    isFinal(err),
	}
	return wasUp
}

// retryDelay is the wait after the n-th failed try (n >= 1).
func (b *Backend) retryDelay(n int) time.Duration {
	d := b.cfg.MemberRetry
	for i := 1; i < n && d < b.cfg.MemberRetryMax; i++ {
		d *= 2
	}
	return min(d, b.cfg.MemberRetryMax)
}

// prober brings members back and checks the working ones, until Close.
func (b *Backend) prober() {
	defer close(b.done)
	health := time.NewTicker(b.cfg.HealthInterval)
	defer health.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(b.untilNextTry())
		select {
		case <-b.stop:
			return
		case <-b.wake:
		case <-timer.C:
		case <-health.C:
			b.checkWorking()
		}
		for _, m := range b.due() {
			// In a goroutine: reconnecting a member whose server hangs
			// can hang too (watch.go), and the others still need the
			// prober. due leaves out a member being revived.
			m.reviving.Store(true)
			go func() {
				defer b.wakeProber()
				defer m.reviving.Store(false)
				b.revive(m)
			}()
		}
	}
}

// wakeProber makes the prober look at the members again.
func (b *Backend) wakeProber() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// untilNextTry is the wait until the next member is due for a try.
func (b *Backend) untilNextTry() time.Duration {
	b.healthMu.Lock()
	defer b.healthMu.Unlock()
	wait := time.Hour
	t := now()
	for _, m := range b.members {
		if m.up.Load() || m.health.final || m.reviving.Load() {
			continue
		}
		wait = min(wait, max(m.health.next.Sub(t), 0))
	}
	return wait
}

// due lists the members that are out and due for a try.
func (b *Backend) due() []*member {
	b.healthMu.Lock()
	defer b.healthMu.Unlock()
	var out []*member
	t := now()
	for _, m := range b.members {
		if !m.up.Load() && !m.health.final && !m.reviving.Load() && !m.health.next.After(t) {
			out = append(out, m)
		}
	}
	return out
}

// revive tries to bring m back: reconnect its module when that is needed
// and allowed, find its token, log in, resolve the key set.
func (b *Backend) revive(m *member) {
	b.healthMu.Lock()
	reinit := m.health.reinit
	b.healthMu.Unlock()

	// Members sharing m's module: re-initializing it ends their sessions
	// too, so it is only done when all of them are out.
	group := []*member{m}
	if mod := m.loadedModule(); reinit && mod != nil {
		group = group[:0]
		for _, o := range b.members {
			if o.loadedModule() == mod {
				if o.up.Load() {
					reinit = false
				}
				group = append(group, o)
			}
		}
		if !reinit {
			group = []*member{m}
		}
	}
	sort.Slice(group, func(i, j int) bool { return group[i].idx < group[j].idx })
	for _, o := range group {
		o.use.Lock() // waits for calls in flight on them, hung ones too
	}
	select {
	case <-b.stop: // closed while we waited
		for i := len(group) - 1; i >= 0; i-- {
			group[i].use.Unlock()
		}
		return
	default:
	}
	// Revives run in parallel: another one may have re-initialized the
	// module, or brought a member of the group back, while we waited.
	b.healthMu.Lock()
	reinit = reinit && m.health.reinit
	b.healthMu.Unlock()
	for _, o := range group {
		if o != m && o.up.Load() {
			reinit = false
		}
	}
	var err error
	did := false
	if reinit && m.mod != nil {
		did, err = m.mod.reinitialize(len(group))
		if err != nil {
			err = lost{err}
		}
	}
	if did {
		for _, o := range group {
			o.forget(false)
		}
	} else if err == nil {
		m.forget(true)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), max(b.cfg.MemberRetryMax, 30*time.Second))
		err = m.connect(ctx)
		cancel()
	}
	if err == nil {
		m.up.Store(true)
	}
	for i := len(group) - 1; i >= 0; i-- {
		group[i].use.Unlock()
	}

	b.healthMu.Lock()
	t := now()
	if did {
		for _, o := range group {
			if o != m {
				o.health.reinit, o.health.next = false, t // fresh module: try them now
			}
		}
	}
	h := &m.health
	if err == nil {
		down := t.Sub(h.since)
		*h = memberHealth{since: t}
		b.healthMu.Unlock()
		b.logger().Info().Int("member", m.idx).Str("token", m.spec.TokenLabel).Bool("reinitialized", did).
			Dur("down", down).Msg("hsm member back in the set")
		return
	}
	h.failures++
	h.reason = err.Error()
	h.next = t.Add(b.retryDelay(h.failures))
	h.reinit = true
	h.final = isFinal(err)
	failures, next, final := h.failures, h.next, h.final
	b.healthMu.Unlock()
	b.logger().Debug().Int("member", m.idx).Str("token", m.spec.TokenLabel).Int("failures", failures).
		Bool("final", final).Time("next_try", next).Str("reason", err.Error()).Msg("hsm member still down")
}

// checkWorking takes out the working members whose calls stopped
// returning (watch.go) and checks each of the others in a goroutine of
// its own (checkMember), unless its last check is still running: that one
// is then hung, and the watch takes the member out once call_timeout has
// passed.
func (b *Backend) checkWorking() {
	t := time.Now()
	for _, m := range b.members {
		if !m.up.Load() {
			continue
		}
		if d, n := m.watch.stalled(t); n > 0 && d >= b.cfg.CallTimeout {
			b.markDown(m, lost{errHung{waited: d, inFlight: n}})
			continue
		}
		if !m.checking.CompareAndSwap(false, true) {
			continue
		}
		go func() {
			defer m.checking.Store(false)
			b.checkMember(m)
		}()
	}
}

// checkMember runs a cheap call on m's anchor session (which also repairs
// a lost anchor or login), taking m out if it turns out to be gone.
func (b *Backend) checkMember(m *member) {
	_, _ = b.onMember(m, func() error {
		select {
		case <-b.stop: // Close is about to release the member
			return nil
		default:
		}
		return m.withAnchor(func(a pkcs11.SessionHandle) error {
			_, err := m.mod.GenerateRandom(a, 1)
			if err == nil {
				m.sweepKept(a) // keptcache.go
			}
			return err
		})
	})
}

// MemberStatus is one member of the HSM set as the set sees it.
type MemberStatus struct {
	Member   int    // 1-based
	Token    string // token label (empty when selected by slot id)
	Module   string
	Up       bool
	Since    time.Time // when it went up or down
	Cause    string    // what took it out
	Reason   string    // why the last try to bring it back failed
	Failures int       // failed tries since it went down
	NextTry  time.Time // when it is tried again (zero if up or never)
	Requests uint64    // calls it served
}

// Members reports the state of each member, for status commands and
// metrics.
func (b *Backend) Members() []MemberStatus {
	b.healthMu.Lock()
	defer b.healthMu.Unlock()
	out := make([]MemberStatus, 0, len(b.members))
	for _, m := range b.members {
		s := MemberStatus{
			Member: m.idx, Token: m.spec.TokenLabel, Module: m.spec.Module,
			Up: m.up.Load(), Since: m.health.since, Requests: m.requests.Load(),
		}
		if !s.Up {
			s.Cause, s.Reason, s.Failures = m.health.cause, m.health.reason, m.health.failures
			if !m.health.final {
				s.NextTry = m.health.next
			}
		}
		out = append(out, s)
	}
	return out
}

// Failovers counts the requests that a member failed and another served.
func (b *Backend) Failovers() uint64 { return b.failover.Load() }
