package pkcs11

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// member is one HSM partition of the set, reached through one module: its
// sessions, login and cached handles, and its health.
type member struct {
	idx  int // 1-based, as operators count them
	spec config.PKCS11Member
	cfg  config.PKCS11 // labels, pool size
	mech mechanisms
	pin  string

	// use is held shared by every call on the member and exclusively while
	// the member is reconnected, which replaces the module's state, the
	// slot, the pool and every handle below.
	use  sync.RWMutex
	mod  *module // nil until the module was loaded once
	slot uint
	pool *pool
	// modMu guards mod too, for readers that do not hold use: a revive
	// looking at which other members share the module (revives run in
	// parallel, one of them may be loading its module).
	modMu sync.Mutex

	// The anchor session is never part of the pool's churn: it owns the
	// unwrapped tenant KEKs (session objects die with the session that
	// made them, but every session of the process can use them) and, by
	// staying open, keeps the token logged in. It runs one call at a time.
	anchorMu  sync.Mutex
	anchor    pkcs11.SessionHandle
	hasAnchor bool

	keysMu sync.Mutex
	keys   map[string]keyRef // key set handles by keySpec.name

	// keks maps kekCacheKey(tenant key) to the unwrapped KEK. Only blobs
	// whose MAC verified enter, so its size is bounded by the number of
	// genuine tenant keys, not by what clients send.
	keksMu sync.Mutex
	keks   map[[sha256.Size]byte]pkcs11.ObjectHandle

	// kept caches kept keys unwrapped on the anchor session (keptcache.go),
	// at most keptCap of them (0: no cache).
	keptMu               sync.Mutex
	kept                 map[keptCacheKey]*keptEntry
	keptCap              int
	keptHits, keptMisses atomic.Uint64

	// ivs are the IVs of seals under tenant KEKs (ivseq.go).
	ivs ivSequence

	// up is read on every request without a lock; health holds the rest
	// of the member's state, guarded by Backend.healthMu.
	up       atomic.Bool
	health   memberHealth
	requests atomic.Uint64 // calls served

	// watch sees calls that stop returning (watch.go); checking and
	// reviving are set while a health check or a try to bring the member
	// back runs (in a goroutine of its own: either may hang with it).
	watch              callWatch
	checking, reviving atomic.Bool
}

// memberHealth is a member's state as the set sees it.
type memberHealth struct {
	since    time.Time // when it went up or down
	cause    string    // what took it out
	reason   string    // why the last try to bring it back failed (at first: cause)
	failures int       // failed tries since it went down
	next     time.Time // next try to bring it back
	reinit   bool      // its module needs C_Finalize and C_Initialize
	// final: a retry cannot help (a wrong PIN: retrying could lock the
	// partition); the member stays out until the adapter restarts.
	final bool
}

func newMember(idx int, spec config.PKCS11Member, cfg config.PKCS11, pin string, mech mechanisms) *member {
	m := &member{
		idx: idx, spec: spec, cfg: cfg, pin: pin, mech: mech,
		keys: map[string]keyRef{},
		keks: map[[sha256.Size]byte]pkcs11.ObjectHandle{},
		kept: map[keptCacheKey]*keptEntry{}, keptCap: keptCacheSize,
	}
	m.pool = newPool(cfg.SessionPoolSize, m.openSession, m.closeSession)
	return m
}

// loadedModule is mod, for a caller that does not hold use.
func (m *member) loadedModule() *module {
	m.modMu.Lock()
	defer m.modMu.Unlock()
	return m.mod
}

// String names the member in messages and logs: never a PIN.
func (m *member) String() string {
	if m.spec.TokenLabel != "" {
		return fmt.Sprintf("member %d (token %q)", m.idx, m.spec.TokenLabel)
	}
	return fmt.Sprintf("member %d (slot %d)", m.idx, m.spec.SlotID)
}

// lost marks an error after which the member cannot serve: its module,
// token, session or login failed in a way that only reconnecting it can
// repair.
type lost struct{ error }

func (l lost) Unwrap() error { return l.error }

// faultRVs are the PKCS#11 return values that mean the member itself is
// gone, whichever call gave them.
var faultRVs = map[uint]bool{
	pkcs11.CKR_DEVICE_ERROR: true, pkcs11.CKR_DEVICE_REMOVED: true, pkcs11.CKR_DEVICE_MEMORY: true,
	pkcs11.CKR_TOKEN_NOT_PRESENT: true, pkcs11.CKR_TOKEN_NOT_RECOGNIZED: true,
	pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED: true, pkcs11.CKR_SLOT_ID_INVALID: true,
	pkcs11.CKR_SESSION_HANDLE_INVALID: true, pkcs11.CKR_SESSION_CLOSED: true,
	pkcs11.CKR_USER_NOT_LOGGED_IN: true,
}

// isMemberFault reports whether err takes the member out of the set: the
// request is then retried on another member. Other errors (a changed
// blob, a missing key, a bad argument) are not the member's fault.
func isMemberFault(err error) bool {
	var l lost
	if errors.As(err, &l) {
		return true
	}
	var e pkcs11.Error // also inside a settled error
	return errors.As(err, &e) && faultRVs[uint(e)]
}

// isFinal reports a login failure that retrying cannot repair and that
// repeated tries could make worse (HSMs lock a partition after a few
// wrong PINs).
func isFinal(err error) bool {
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_PIN_EXPIRED,
		pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		return true
	}
	return false
}

// connect loads the module if needed, finds the member's token, opens the
// anchor session (logging in) and resolves the key set. Callers hold use
// exclusively, or the member is not yet published.
func (m *member) connect(ctx context.Context) error {
	if m.mod == nil {
		mod, err := acquireModule(m.spec.Module, moduleEnv{SoftHSM2Conf: m.spec.SoftHSM2Conf, ServerAddress: m.spec.ServerAddress}, m.cfg.CallTimeout)
		if err != nil {
			return lost{err}
		}
		m.modMu.Lock()
		m.mod = mod
		m.modMu.Unlock()
	}
	slot, err := findMemberSlot(m.mod, m.spec)
	if err != nil {
		return lost{err}
	}
	m.slot = slot
	// Opening the anchor logs in: a wrong PIN fails here, not later.
	if err := m.withAnchor(func(pkcs11.SessionHandle) error { return nil }); err != nil {
		return err
	}
	// Resolve the key set now so the handles are cached; what is missing
	// is resolved again when needed (and reported by Check).
	return m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		for _, spec := range m.keySpecs() {
			if _, err := m.key(s, spec); isMemberFault(err) {
				return err
			}
		}
		return nil
	})
}

// forget drops every session and handle. With closeSessions the sessions
// of the member's slot are closed first (C_CloseAllSessions: a slot
// belongs to one member); without, the module was initialized again and
// they no longer exist (their numbers may already name new sessions).
// Callers hold use exclusively.
func (m *member) forget(closeSessions bool) {
	if closeSessions && m.mod != nil {
		_ = m.mod.CloseAllSessions(m.slot) // the slot may be gone too
	}
	m.pool = newPool(m.cfg.SessionPoolSize, m.openSession, m.closeSession)
	m.anchorMu.Lock()
	m.anchor, m.hasAnchor = 0, false
	m.anchorMu.Unlock()
	m.forgetKeys()
	m.keksMu.Lock()
	clear(m.keks)
	m.keksMu.Unlock()
	m.forgetKept()
}

// keySpecs lists every object of the key set, in Check's order.
func (m *member) keySpecs() []keySpec {
	specs := []keySpec{mkekSpec(m.cfg.MKEKLabel), skeySpec(m.cfg.SKEYLabel), ikeySpec(m.cfg.IKEYLabel)}
	for i := 1; i <= m.cfg.TKEKCount; i++ {
		specs = append(specs, tkekPrivateSpec(m.cfg.TKEKPrefix, i), tkekPublicSpec(m.cfg.TKEKPrefix, i))
	}
	return specs
}

// openSession opens a read-write session and makes sure the token is
// logged in. C_Login is per token, not per session: it answers
// CKR_USER_ALREADY_LOGGED_IN while any session of the process is, which
// is fine.
func (m *member) openSession() (pkcs11.SessionHandle, error) {
	s, err := m.mod.OpenSession(m.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, lost{fmt.Errorf("%w: pkcs11: C_OpenSession on token %q: %w", backend.ErrUnavailable, m.spec.TokenLabel, err)}
	}
	if err := m.login(s); err != nil {
		m.closeSession(s)
		return 0, err
	}
	return s, nil
}

func (m *member) closeSession(s pkcs11.SessionHandle) {
	_ = m.mod.CloseSession(s) // a session we drop may be dead already
}

func (m *member) login(s pkcs11.SessionHandle) error {
	err := m.mod.Login(s, pkcs11.CKU_USER, m.pin)
	if err == nil || isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return nil
	}
	// The PKCS#11 error is a return value; the PIN never enters the text.
	return lost{fmt.Errorf("%w: pkcs11: C_Login to token %q: %w", backend.ErrUnavailable, m.spec.TokenLabel, err)}
}

// recovery is a kind of damage a retry can repair.
type recovery uint8

const (
	recoverSession recovery = 1 << iota // session lost: use another
	recoverLogin                        // login lost: log in again
	recoverHandles                      // a cached handle is stale: resolve again
)

// recoveryFor says what repairs err, or 0 if a retry cannot help.
func recoveryFor(err error) recovery {
	switch {
	case isSessionLost(err):
		return recoverSession
	case isNotLoggedIn(err):
		return recoverLogin
	case isHandleInvalid(err):
		return recoverHandles
	}
	return 0
}

// withSession runs fn on a pooled session. If fn fails because the
// session, the login or a cached handle was lost, the damage is repaired
// (session dropped, login redone, handles forgotten) and fn runs again;
// each kind of repair is tried once, because one loss often reveals the
// next (a token restart loses the sessions, then the KEKs they owned).
// What it cannot repair (the device is gone) it returns, and the set takes
// the member out.
func (m *member) withSession(ctx context.Context, fn func(pkcs11.SessionHandle) error) error {
	m.watch.begin()
	defer m.watch.end()
	var tried recovery
	for {
		s, err := m.pool.get(ctx)
		if err != nil {
			return err
		}
		err = fn(s)
		r := recoveryFor(err)
		switch {
		case err == nil:
			m.pool.put(s)
			return nil
		case isDeviceLost(err):
			// Retrying on this module cannot help until it is
			// initialized again: the set reconnects the member.
			m.pool.discard(s)
			m.pool.drain()
			return err
		case r == 0 || tried&r != 0:
			if r == recoverSession {
				m.pool.discard(s)
			} else {
				m.pool.put(s)
			}
			return err
		}
		tried |= r
		switch r {
		case recoverSession:
			m.pool.discard(s)
			m.pool.drain()
		case recoverLogin:
			lerr := m.login(s)
			m.pool.put(s)
			if lerr != nil {
				return lerr
			}
		case recoverHandles:
			m.forgetKeys()
			m.pool.put(s)
		}
	}
}

// withAnchor runs fn on the anchor session, opening it if needed, with the
// same repairs as withSession. Losing the anchor loses every unwrapped
// KEK, so the KEK cache is emptied with it.
func (m *member) withAnchor(fn func(pkcs11.SessionHandle) error) error {
	m.watch.begin()
	defer m.watch.end()
	m.anchorMu.Lock()
	defer m.anchorMu.Unlock()
	var tried recovery
	for {
		if !m.hasAnchor {
			a, err := m.openSession()
			if err != nil {
				return err
			}
			m.anchor, m.hasAnchor = a, true
		}
		err := fn(m.anchor)
		r := recoveryFor(err)
		switch {
		case err == nil:
			return nil
		case isDeviceLost(err):
			// Not settled: the caller's session is on the same dead
			// module, and withSession drops the pool for it.
			m.dropAnchor()
			return err
		case r == 0 || tried&r != 0:
			return settled{err}
		}
		tried |= r
		switch r {
		case recoverSession:
			m.dropAnchor()
		case recoverLogin:
			if lerr := m.login(m.anchor); lerr != nil {
				return lerr
			}
		case recoverHandles:
			m.forgetKeys()
		}
	}
}

// dropAnchor closes the anchor session; its session objects are gone.
// Callers hold anchorMu.
func (m *member) dropAnchor() {
	m.closeSession(m.anchor)
	m.anchor, m.hasAnchor = 0, false
	m.keksMu.Lock()
	clear(m.keks)
	m.keksMu.Unlock()
	m.forgetKept()
	m.forgetSKEYCopy()
}

// key returns the cached handle of a key set object, resolving it by label
// on s when it is not cached. Failures are not cached, so a key the
// customer adds later is found.
func (m *member) key(s pkcs11.SessionHandle, spec keySpec) (keyRef, error) {
	m.keysMu.Lock()
	r, ok := m.keys[spec.name]
	m.keysMu.Unlock()
	if ok {
		return r, nil
	}
	r, err := resolve(m.mod, s, spec)
	if err != nil {
		return keyRef{}, err
	}
	m.keysMu.Lock()
	m.keys[spec.name] = r
	m.keysMu.Unlock()
	return r, nil
}

// forgetKeys drops every cached key set handle: one was found invalid
// (the key was replaced, or the token came back with new handles).
func (m *member) forgetKeys() {
	m.keysMu.Lock()
	clear(m.keys)
	m.keysMu.Unlock()
}

func (m *member) cachedKEK(k [sha256.Size]byte) (pkcs11.ObjectHandle, bool) {
	m.keksMu.Lock()
	defer m.keksMu.Unlock()
	h, ok := m.keks[k]
	return h, ok
}

// dropKEK forgets a KEK whose handle was found invalid.
func (m *member) dropKEK(k [sha256.Size]byte) {
	m.keksMu.Lock()
	delete(m.keks, k)
	m.keksMu.Unlock()
}

// close destroys the unwrapped KEKs, closes every session and releases
// the module. No call is in flight.
func (m *member) close() {
	if m.mod == nil {
		m.pin = ""
		return
	}
	if m.up.Load() {
		m.pool.drain() // every session is idle
		m.anchorMu.Lock()
		if m.hasAnchor {
			m.keksMu.Lock()
			for _, h := range m.keks {
				_ = m.mod.DestroyObject(m.anchor, h) // closing the anchor would too; be explicit
			}
			clear(m.keks)
			m.keksMu.Unlock()
			m.destroyKept(m.anchor)
			m.closeSession(m.anchor)
			m.hasAnchor = false
		}
		m.anchorMu.Unlock()
	}
	m.pin = ""
	m.mod.release()
	m.modMu.Lock()
	m.mod = nil
	m.modMu.Unlock()
}
