package pkcs11

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// p11 is the part of the PKCS#11 API this package uses. *pkcs11.Ctx
// implements it through ctxModule; tests can wrap it to inject faults.
type p11 interface {
	Initialize() error
	Finalize() error
	Destroy()

	GetSlotList(tokenPresent bool) ([]uint, error)
	GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error)
	GetMechanismInfo(slotID uint, m []*pkcs11.Mechanism) (pkcs11.MechanismInfo, error) // policy.go
	InitToken(slotID uint, soPIN string, label string) error
	InitPIN(sh pkcs11.SessionHandle, pin string) error

	OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error)
	CloseSession(sh pkcs11.SessionHandle) error
	Login(sh pkcs11.SessionHandle, userType uint, pin string) error
	Logout(sh pkcs11.SessionHandle) error

	FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error
	FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error)
	FindObjectsFinal(sh pkcs11.SessionHandle) error
	GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error)
	DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error
	CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)                      // keeper.go: keys clients register
	CopyObject(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) // skeycopy.go

	GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)
	GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error)
	WrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrappingKey, key pkcs11.ObjectHandle) ([]byte, error)
	UnwrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, unwrappingKey pkcs11.ObjectHandle, wrapped []byte, a []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)

	EncryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Encrypt(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
	DecryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Decrypt(sh pkcs11.SessionHandle, cipher []byte) ([]byte, error)
	// The multi-part forms: a kept key's block cipher streams its blocks
	// through one ECB operation (keeper.go).
	EncryptUpdate(sh pkcs11.SessionHandle, plain []byte) ([]byte, error)
	EncryptFinal(sh pkcs11.SessionHandle) ([]byte, error)
	DecryptUpdate(sh pkcs11.SessionHandle, cipher []byte) ([]byte, error)
	DecryptFinal(sh pkcs11.SessionHandle) ([]byte, error)
	SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
	VerifyInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, key pkcs11.ObjectHandle) error
	Verify(sh pkcs11.SessionHandle, data []byte, signature []byte) error
	GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error)
	CloseAllSessions(slotID uint) error
}

// ctxModule adapts *pkcs11.Ctx to p11: every method but Initialize (which
// takes options there) is promoted unchanged.
type ctxModule struct{ *pkcs11.Ctx }

func (c ctxModule) Initialize() error { return c.Ctx.Initialize() }

// loadModule loads a PKCS#11 library. It is a variable so that tests can
// put a fault-injecting p11 in front of the real module.
var loadModule = func(path string) (p11, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: pkcs11: module: %w", backend.ErrUnavailable, err)
	}
	c := pkcs11.New(path)
	if c == nil {
		return nil, fmt.Errorf("%w: pkcs11: cannot load module %s", backend.ErrUnavailable, path)
	}
	return ctxModule{c}, nil
}

// moduleEnv is what a module reads from the environment when it
// initializes: SoftHSM2 its configuration file, p11-kit-client the
// address of its server. Empty fields leave the variable as it is.
type moduleEnv struct {
	SoftHSM2Conf  string // SOFTHSM2_CONF
	ServerAddress string // P11_KIT_SERVER_ADDRESS
}

const (
	envSoftHSM2Conf  = "SOFTHSM2_CONF"
	envServerAddress = "P11_KIT_SERVER_ADDRESS"
)

func (e moduleEnv) vars() [][2]string {
	return [][2]string{{envSoftHSM2Conf, e.SoftHSM2Conf}, {envServerAddress, e.ServerAddress}}
}

// module is one loaded and initialized PKCS#11 library, shared by every
// Backend member (and Provision) of the process that uses the same path.
// Sharing is not optional: dlopen returns the same library for the same
// path, so a second C_Initialize fails and one user's C_Finalize would end
// the sessions of all others. The last release finalizes it. Two members
// that need different environments (two p11-kit servers) therefore need
// two copies of the module file.
type module struct {
	p11
	path string
	env  moduleEnv // as the module saw it at C_Initialize
	refs int       // guarded by modulesMu
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

// acquireModule returns the module at path, loading and initializing it
// on first use with want's variables exported. SoftHSM2 and p11-kit-client
// read them only at C_Initialize, so a module already initialized with
// other values is refused rather than silently used with the wrong token
// directory or server. A module that takes one call at a time
// (needsSerialCalls) makes a call wait at most callTimeout for its turn
// (0: for ever).
func acquireModule(path string, want moduleEnv, callTimeout time.Duration) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[path]; ok {
		have := m.env.vars()
		for i, v := range want.vars() {
			if v[1] != "" && v[1] != have[i][1] {
				return nil, fmt.Errorf("%w: pkcs11: module %s is already initialized in this process with %s=%q, not %q",
					backend.ErrUnavailable, path, v[0], have[i][1], v[1])
			}
		}
		m.refs++
		return m, nil
	}
	m := &module{path: path, refs: 1}
	err := withEnv(want, func() error {
		// p11-kit-client reads its server address when it is loaded
		// (C_GetFunctionList), SoftHSM2 its configuration at C_Initialize:
		// the variables are set for both.
		p, err := loadModule(path)
		if err != nil {
			return err
		}
		if needsSerialCalls(path, want) {
			p = serialize(p, callTimeout)
		}
		m.p11 = p
		if err := m.initialize(want); err != nil {
			p.Destroy()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	modules[path] = m
	return m, nil
}

// initialize runs C_Initialize with want's variables exported and records
// what the module saw. Callers hold modulesMu.
func (m *module) initialize(want moduleEnv) error {
	return withEnv(want, func() error {
		if err := m.Initialize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return fmt.Errorf("%w: pkcs11: C_Initialize %s: %w", backend.ErrUnavailable, m.path, err)
		}
		m.env = moduleEnv{SoftHSM2Conf: os.Getenv(envSoftHSM2Conf), ServerAddress: os.Getenv(envServerAddress)}
		return nil
	})
}

// withEnv runs fn with want's variables exported, and puts the
// environment back afterwards (the module has read it). Callers hold
// modulesMu: the environment is the process's.
func withEnv(want moduleEnv, fn func() error) error {
	type saved struct {
		name, value string
		ok          bool
	}
	var restore []saved
	defer func() {
		for _, r := range restore {
			if r.ok {
				_ = os.Setenv(r.name, r.value)
			} else {
				_ = os.Unsetenv(r.name)
			}
		}
	}()
	for _, v := range want.vars() {
		if v[1] == "" {
			continue
		}
		old, ok := os.LookupEnv(v[0])
		restore = append(restore, saved{v[0], old, ok})
		if err := os.Setenv(v[0], v[1]); err != nil {
			return fmt.Errorf("pkcs11: set %s: %w", v[0], err)
		}
	}
	return fn()
}

// reinitialize runs C_Finalize and C_Initialize again: the only way to
// reconnect a client module (p11-kit-client, a network HSM's library)
// whose server went away and came back. Every session and handle of the
// module is gone afterwards; callers make sure nobody uses the module
// meanwhile and that they are its only users (users).
func (m *module) reinitialize(users int) (bool, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m.refs != users {
		return false, nil // someone else in the process uses it: leave it
	}
	_ = m.Finalize() // it may well fail: the module is broken
	return true, m.initialize(m.env)
}

// release drops one reference; the last one finalizes and unloads the
// module.
func (m *module) release() {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules, m.path)
	_ = m.Finalize() // nothing useful to do if it fails: we are leaving
	m.Destroy()
}

// findSlot returns the slot holding the token labelled label. Slot ids are
// not stable (SoftHSM2 gives initialized tokens random ids), labels are.
func findSlot(p p11, label string) (uint, error) {
	found, err := slotsWithLabel(p, label)
	if err != nil {
		return 0, err
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: pkcs11: no token labelled %q", backend.ErrUnavailable, label)
	case 1:
		return found[0], nil
	default:
		return 0, fmt.Errorf("%w: pkcs11: %d tokens labelled %q: labels must be unique", backend.ErrUnavailable, len(found), label)
	}
}

// findMemberSlot returns the slot of a member's token: by label, by slot
// id, or by both (then the slot's token must carry the label).
func findMemberSlot(p p11, spec config.PKCS11Member) (uint, error) {
	if !spec.HasSlotID {
		return findSlot(p, spec.TokenLabel)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("%w: pkcs11: C_GetSlotList: %w", backend.ErrUnavailable, err)
	}
	for _, s := range slots {
		if s != spec.SlotID {
			continue
		}
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			return 0, fmt.Errorf("%w: pkcs11: C_GetTokenInfo of slot %d: %w", backend.ErrUnavailable, s, err)
		}
		if spec.TokenLabel != "" && ti.Label != spec.TokenLabel {
			return 0, fmt.Errorf("%w: pkcs11: slot %d holds token %q, not %q", backend.ErrUnavailable, s, ti.Label, spec.TokenLabel)
		}
		return s, nil
	}
	return 0, fmt.Errorf("%w: pkcs11: no token in slot %d", backend.ErrUnavailable, spec.SlotID)
}
