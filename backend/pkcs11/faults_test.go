package pkcs11

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/pkcs11"
)

// faultyModule sits in front of a real module and fails the way a network
// HSM's client module (p11-kit-client here, Luna's library in production)
// fails:
//
//   - kill: the server is gone. Every call answers CKR_DEVICE_ERROR, and
//     keeps doing so after the server is back, until C_Finalize and
//     C_Initialize. Initialized while the server is still gone, the
//     module shows no slot and knows no session until initialized again.
//   - removeToken: the token is gone (its sessions closed); calls answer
//     CKR_TOKEN_NOT_PRESENT and the slot list hides it until it is back.
//   - wrongPIN: C_Login answers CKR_PIN_INCORRECT.
type faultyModule struct {
	p11 // the real module

	mu          sync.Mutex
	unreachable bool // the server is gone
	broken      bool // CKR_DEVICE_ERROR until C_Finalize
	offline     bool // initialized while unreachable
	tokenGone   bool
	wrongPIN    bool

	// stale are the sessions a token removal ended: the real sessions
	// are left open (closing them under a caller's feet would crash
	// SoftHSM2) until the backend closes them.
	stale map[pkcs11.SessionHandle]bool
	open  map[pkcs11.SessionHandle]bool

	// random fails the calls named in it (GenerateKey, Encrypt, ...)
	// with randomRV at randomRate, the way a loaded network HSM drops
	// one request in a few (failAtRate).
	random     map[string]bool
	randomRV   uint
	randomRate float64
	randomHits atomic.Int64

	// stalled, while not nil, holds every call until it is closed: the
	// server stopped answering without closing its connection.
	stalled chan struct{}

	calls  atomic.Int64 // calls that reached the real module
	inits  atomic.Int32 // C_Initialize calls
	logins atomic.Int32 // C_Login calls
}

func (f *faultyModule) kill() {
	f.mu.Lock()
	f.unreachable, f.broken = true, true
	f.mu.Unlock()
}

// restart brings the server back; the module stays broken until it is
// initialized again.
func (f *faultyModule) restart() {
	f.mu.Lock()
	f.unreachable = false
	f.mu.Unlock()
}

// injected is a return value made up by failAtRate: the call did not
// reach the module.
type injected struct{ rv pkcs11.Error }

func (e injected) Error() string { return e.rv.Error() }
func (e injected) Unwrap() error { return e.rv }

// finish ends the single-part operation of a call that failed with an
// injected return value: a module ends the operation whatever the call
// returns (PKCS#11 2.40 section 5.8), but an injected failure never
// reached it, and the session would keep the operation active.
func finish[T any](err error, real func() (T, error)) error {
	var inj injected
	if errors.As(err, &inj) {
		_, _ = real()
	}
	return err
}

// failAtRate fails the named calls with rv at rate (0 stops it).
func (f *faultyModule) failAtRate(rate float64, rv uint, calls ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.randomRate, f.randomRV, f.random = rate, rv, map[string]bool{}
	for _, c := range calls {
		f.random[c] = true
	}
}

// stall makes every call wait until unstall.
func (f *faultyModule) stall() {
	f.mu.Lock()
	f.stalled = make(chan struct{})
	f.mu.Unlock()
}

func (f *faultyModule) unstall() {
	f.mu.Lock()
	if f.stalled != nil {
		close(f.stalled)
		f.stalled = nil
	}
	f.mu.Unlock()
}

// waitStalled holds a call while the module is stalled.
func (f *faultyModule) waitStalled() {
	f.mu.Lock()
	ch := f.stalled
	f.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (f *faultyModule) removeToken() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenGone = true
	// Removing a token ends its sessions.
	for s := range f.open {
		f.stale[s] = true
	}
}

func (f *faultyModule) insertToken() {
	f.mu.Lock()
	f.tokenGone = false
	f.mu.Unlock()
}

func (f *faultyModule) setWrongPIN(v bool) {
	f.mu.Lock()
	f.wrongPIN = v
	f.mu.Unlock()
}

// gate says how a call fails now, or nil to let it through.
func (f *faultyModule) gate(offlineRV uint) error {
	f.waitStalled()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gateLocked(offlineRV)
}

func (f *faultyModule) gateLocked(offlineRV uint) error {
	switch {
	case f.broken:
		return pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
	case f.offline:
		return pkcs11.Error(offlineRV)
	case f.tokenGone:
		return pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT)
	}
	if len(f.random) > 0 && rand.Float64() < f.randomRate {
		// The module's method called gate or session, which called us.
		if pc, _, _, ok := runtime.Caller(2); ok {
			name := runtime.FuncForPC(pc).Name()
			if i := strings.LastIndexByte(name, '.'); i >= 0 && f.random[name[i+1:]] {
				f.randomHits.Add(1)
				return injected{pkcs11.Error(f.randomRV)}
			}
		}
	}
	f.calls.Add(1)
	return nil
}

// session gates a call on session sh.
func (f *faultyModule) session(sh pkcs11.SessionHandle) error {
	f.waitStalled()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.gateLocked(pkcs11.CKR_SESSION_HANDLE_INVALID); err != nil {
		return err
	}
	if f.stale[sh] {
		return pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	return nil
}

func (f *faultyModule) Initialize() error {
	f.waitStalled()
	f.inits.Add(1)
	err := f.p11.Initialize()
	f.mu.Lock()
	f.broken, f.offline = false, f.unreachable
	f.mu.Unlock()
	return err
}

func (f *faultyModule) Finalize() error {
	f.waitStalled()
	f.mu.Lock()
	f.open, f.stale = map[pkcs11.SessionHandle]bool{}, map[pkcs11.SessionHandle]bool{}
	f.mu.Unlock()
	return f.p11.Finalize()
}

func (f *faultyModule) GetSlotList(present bool) ([]uint, error) {
	f.waitStalled()
	f.mu.Lock()
	broken, offline, gone := f.broken, f.offline, f.tokenGone
	f.mu.Unlock()
	switch {
	case broken:
		return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
	case offline, gone:
		return nil, nil
	}
	return f.p11.GetSlotList(present)
}

func (f *faultyModule) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	if err := f.gate(pkcs11.CKR_SLOT_ID_INVALID); err != nil {
		return pkcs11.TokenInfo{}, err
	}
	return f.p11.GetTokenInfo(slot)
}

func (f *faultyModule) OpenSession(slot uint, flags uint) (pkcs11.SessionHandle, error) {
	if err := f.gate(pkcs11.CKR_SLOT_ID_INVALID); err != nil {
		return 0, err
	}
	s, err := f.p11.OpenSession(slot, flags)
	if err == nil {
		f.mu.Lock()
		f.open[s] = true
		f.mu.Unlock()
	}
	return s, err
}

func (f *faultyModule) CloseSession(sh pkcs11.SessionHandle) error {
	f.mu.Lock()
	stale := f.stale[sh]
	f.mu.Unlock()
	if !stale {
		if err := f.session(sh); err != nil {
			return err
		}
	}
	err := f.p11.CloseSession(sh)
	f.mu.Lock()
	delete(f.open, sh)
	delete(f.stale, sh)
	f.mu.Unlock()
	if stale {
		return pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	return err
}

func (f *faultyModule) CloseAllSessions(slot uint) error {
	if err := f.gate(pkcs11.CKR_SLOT_ID_INVALID); err != nil {
		return err
	}
	err := f.p11.CloseAllSessions(slot)
	f.mu.Lock()
	f.open, f.stale = map[pkcs11.SessionHandle]bool{}, map[pkcs11.SessionHandle]bool{}
	f.mu.Unlock()
	return err
}

func (f *faultyModule) Login(sh pkcs11.SessionHandle, userType uint, pin string) error {
	if err := f.session(sh); err != nil {
		return err
	}
	f.logins.Add(1)
	f.mu.Lock()
	wrong := f.wrongPIN
	f.mu.Unlock()
	if wrong {
		return pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)
	}
	return f.p11.Login(sh, userType, pin)
}

func (f *faultyModule) Logout(sh pkcs11.SessionHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.Logout(sh)
}

func (f *faultyModule) FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.FindObjectsInit(sh, temp)
}

func (f *faultyModule) FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error) {
	if err := f.session(sh); err != nil {
		return nil, false, err
	}
	return f.p11.FindObjects(sh, max)
}

func (f *faultyModule) FindObjectsFinal(sh pkcs11.SessionHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.FindObjectsFinal(sh)
}

func (f *faultyModule) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	if err := f.session(sh); err != nil {
		return nil, err
	}
	return f.p11.GetAttributeValue(sh, o, a)
}

func (f *faultyModule) DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.DestroyObject(sh, oh)
}

func (f *faultyModule) GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := f.session(sh); err != nil {
		return 0, err
	}
	return f.p11.GenerateKey(sh, m, temp)
}

func (f *faultyModule) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	if err := f.session(sh); err != nil {
		return 0, 0, err
	}
	return f.p11.GenerateKeyPair(sh, m, public, private)
}

func (f *faultyModule) WrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrapping, key pkcs11.ObjectHandle) ([]byte, error) {
	if err := f.session(sh); err != nil {
		return nil, err
	}
	return f.p11.WrapKey(sh, m, wrapping, key)
}

func (f *faultyModule) UnwrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, unwrapping pkcs11.ObjectHandle, wrapped []byte, a []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := f.session(sh); err != nil {
		return 0, err
	}
	return f.p11.UnwrapKey(sh, m, unwrapping, wrapped, a)
}

func (f *faultyModule) EncryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.EncryptInit(sh, m, o)
}

func (f *faultyModule) Encrypt(sh pkcs11.SessionHandle, message []byte) ([]byte, error) {
	if err := f.session(sh); err != nil {
		return nil, finish(err, func() ([]byte, error) { return f.p11.Encrypt(sh, message) })
	}
	return f.p11.Encrypt(sh, message)
}

func (f *faultyModule) DecryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.DecryptInit(sh, m, o)
}

func (f *faultyModule) Decrypt(sh pkcs11.SessionHandle, cipher []byte) ([]byte, error) {
	if err := f.session(sh); err != nil {
		return nil, finish(err, func() ([]byte, error) { return f.p11.Decrypt(sh, cipher) })
	}
	return f.p11.Decrypt(sh, cipher)
}

func (f *faultyModule) SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.SignInit(sh, m, o)
}

func (f *faultyModule) Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error) {
	if err := f.session(sh); err != nil {
		return nil, finish(err, func() ([]byte, error) { return f.p11.Sign(sh, message) })
	}
	return f.p11.Sign(sh, message)
}

func (f *faultyModule) VerifyInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, key pkcs11.ObjectHandle) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.VerifyInit(sh, m, key)
}

func (f *faultyModule) Verify(sh pkcs11.SessionHandle, data []byte, signature []byte) error {
	if err := f.session(sh); err != nil {
		return err
	}
	return f.p11.Verify(sh, data, signature)
}

func (f *faultyModule) GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error) {
	if err := f.session(sh); err != nil {
		return nil, err
	}
	return f.p11.GenerateRandom(sh, length)
}

// faults puts a faultyModule in front of every module loaded during the
// test; they are found by module path. preset runs on a module as it is
// loaded (to have a member fail from the start).
type faults struct {
	mu     sync.Mutex
	mods   map[string]*faultyModule
	preset map[string]func(*faultyModule)
}

func injectFaults(t *testing.T) *faults {
	t.Helper()
	fs := &faults{mods: map[string]*faultyModule{}, preset: map[string]func(*faultyModule){}}
	orig := loadModule
	loadModule = func(path string) (p11, error) {
		p, err := orig(path)
		if err != nil {
			return nil, err
		}
		f := &faultyModule{p11: p, open: map[pkcs11.SessionHandle]bool{}, stale: map[pkcs11.SessionHandle]bool{}}
		fs.mu.Lock()
		fs.mods[path] = f
		preset := fs.preset[path]
		fs.mu.Unlock()
		if preset != nil {
			preset(f)
		}
		return f, nil
	}
	t.Cleanup(func() { loadModule = orig })
	return fs
}

// of returns the faulty module at path (it must be loaded).
func (fs *faults) of(t *testing.T, path string) *faultyModule {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.mods[path]
	if !ok {
		t.Fatalf("module %s was not loaded", path)
	}
	return f
}

// onLoad sets what happens to the module at path when it loads.
func (fs *faults) onLoad(path string, fn func(*faultyModule)) {
	fs.mu.Lock()
	fs.preset[path] = fn
	fs.mu.Unlock()
}

// Interface guard: the fault injector is a complete module.
var _ p11 = (*faultyModule)(nil)
