package pkcs11

import (
	"fmt"
	"os"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// p11 is the part of the PKCS#11 API this package uses. *pkcs11.Ctx
// implements it through ctxModule; tests can wrap it to inject faults.
type p11 interface {
	Initialize() error
	Finalize() error
	Destroy()

	GetSlotList(tokenPresent bool) ([]uint, error)
	GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error)
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

	GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)
	GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error)
	WrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrappingKey, key pkcs11.ObjectHandle) ([]byte, error)
	UnwrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, unwrappingKey pkcs11.ObjectHandle, wrapped []byte, a []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)

	EncryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Encrypt(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
	DecryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Decrypt(sh pkcs11.SessionHandle, cipher []byte) ([]byte, error)
	SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
	VerifyInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, key pkcs11.ObjectHandle) error
	Verify(sh pkcs11.SessionHandle, data []byte, signature []byte) error
	GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error)
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

// module is one loaded and initialized PKCS#11 library, shared by every
// Backend (and Provision) of the process that uses the same path. Sharing
// is not optional: dlopen returns the same library for the same path, so a
// second C_Initialize fails and one user's C_Finalize would end the
// sessions of all others. The last release finalizes it.
type module struct {
	p11
	path string
	conf string // SOFTHSM2_CONF seen by C_Initialize
	refs int
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

// acquireModule returns the module at path, loading and initializing it
// on first use. softHSM2Conf, when not empty, is exported as SOFTHSM2_CONF
// first; SoftHSM2 reads it only at C_Initialize, so a module already
// initialized with another configuration is refused rather than silently
// used with the wrong token directory.
func acquireModule(path, softHSM2Conf string) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[path]; ok {
		if softHSM2Conf != "" && softHSM2Conf != m.conf {
			return nil, fmt.Errorf("%w: pkcs11: module %s is already initialized in this process with SOFTHSM2_CONF=%q, not %q",
				backend.ErrUnavailable, path, m.conf, softHSM2Conf)
		}
		m.refs++
		return m, nil
	}
	if softHSM2Conf != "" {
		if err := os.Setenv("SOFTHSM2_CONF", softHSM2Conf); err != nil {
			return nil, fmt.Errorf("pkcs11: set SOFTHSM2_CONF: %w", err)
		}
	}
	p, err := loadModule(path)
	if err != nil {
		return nil, err
	}
	if err := p.Initialize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p.Destroy()
		return nil, fmt.Errorf("%w: pkcs11: C_Initialize %s: %w", backend.ErrUnavailable, path, err)
	}
	m := &module{p11: p, path: path, conf: os.Getenv("SOFTHSM2_CONF"), refs: 1}
	modules[path] = m
	return m, nil
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
