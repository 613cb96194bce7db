package pkcs11

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/pkcs11"
)

// needsSerialCalls reports whether a module must be called by one thread
// at a time: p11-kit-client (found by its file name, or by the server
// address a member gives it).
//
// p11-kit's RPC client (rpc-transport.c, rpc_socket_read) shares one
// socket among the threads of the process. A thread that reads the header
// of another thread's answer parks it in a shared "read code" and waits on
// a condition variable for the owner to take it. When the server dies
// between an answer's header and its body, the owner fails without
// clearing that code and the waiting threads sleep forever: a PKCS#11 call
// that never returns, holding its member. The failing thread also closes
// the socket while other threads may be about to read its descriptor
// number, which the process can meanwhile reuse for something else. One
// call at a time avoids both, and costs nothing: the server answers the
// requests of one connection one after another anyway.
func needsSerialCalls(path string, env moduleEnv) bool {
	return env.ServerAddress != "" || strings.HasPrefix(filepath.Base(path), "p11-kit-client")
}

// serialCalls lets one call at a time into the module it wraps. A call
// waits for its turn at most wait (call_timeout; 0: for ever), then fails
// with errHung: behind a call that never returns (the server stopped
// answering without closing the connection) the others would otherwise
// queue for ever, and with them the requests that made them (watch.go).
type serialCalls struct {
	sem  chan struct{} // holds a token while a call runs
	wait time.Duration
	p    p11
}

func serialize(p p11, wait time.Duration) p11 {
	return &serialCalls{sem: make(chan struct{}, 1), wait: wait, p: p}
}

// turn waits for the module to be free.
func (s *serialCalls) turn() error {
	select {
	case s.sem <- struct{}{}:
		return nil
	default:
	}
	if s.wait <= 0 {
		s.sem <- struct{}{}
		return nil
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-t.C:
		return lost{errHung{waited: s.wait}}
	}
}

func (s *serialCalls) done() { <-s.sem }

func (s *serialCalls) Initialize() error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.Initialize()
}

func (s *serialCalls) Finalize() error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.Finalize()
}

func (s *serialCalls) Destroy() {
	if s.turn() != nil {
		return // a call in progress never returned: the module stays loaded
	}
	defer s.done()
	s.p.Destroy()
}

func (s *serialCalls) GetSlotList(tokenPresent bool) ([]uint, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.GetSlotList(tokenPresent)
}

func (s *serialCalls) GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error) {
	if err := s.turn(); err != nil {
		return pkcs11.TokenInfo{}, err
	}
	defer s.done()
	return s.p.GetTokenInfo(slotID)
}

func (s *serialCalls) GetMechanismInfo(slotID uint, m []*pkcs11.Mechanism) (pkcs11.MechanismInfo, error) {
	if err := s.turn(); err != nil {
		return pkcs11.MechanismInfo{}, err
	}
	defer s.done()
	return s.p.GetMechanismInfo(slotID, m)
}

func (s *serialCalls) InitToken(slotID uint, soPIN string, label string) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.InitToken(slotID, soPIN, label)
}

func (s *serialCalls) InitPIN(sh pkcs11.SessionHandle, pin string) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.InitPIN(sh, pin)
}

func (s *serialCalls) OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error) {
	if err := s.turn(); err != nil {
		return 0, err
	}
	defer s.done()
	return s.p.OpenSession(slotID, flags)
}

func (s *serialCalls) CloseSession(sh pkcs11.SessionHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.CloseSession(sh)
}

func (s *serialCalls) Login(sh pkcs11.SessionHandle, userType uint, pin string) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.Login(sh, userType, pin)
}

func (s *serialCalls) Logout(sh pkcs11.SessionHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.Logout(sh)
}

func (s *serialCalls) FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.FindObjectsInit(sh, temp)
}

func (s *serialCalls) FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error) {
	if err := s.turn(); err != nil {
		return nil, false, err
	}
	defer s.done()
	return s.p.FindObjects(sh, max)
}

func (s *serialCalls) FindObjectsFinal(sh pkcs11.SessionHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.FindObjectsFinal(sh)
}

func (s *serialCalls) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.GetAttributeValue(sh, o, a)
}

func (s *serialCalls) DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.DestroyObject(sh, oh)
}

func (s *serialCalls) CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := s.turn(); err != nil {
		return 0, err
	}
	defer s.done()
	return s.p.CreateObject(sh, temp)
}

func (s *serialCalls) CopyObject(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := s.turn(); err != nil {
		return 0, err
	}
	defer s.done()
	return s.p.CopyObject(sh, o, temp)
}

func (s *serialCalls) GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := s.turn(); err != nil {
		return 0, err
	}
	defer s.done()
	return s.p.GenerateKey(sh, m, temp)
}

func (s *serialCalls) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	if err := s.turn(); err != nil {
		return 0, 0, err
	}
	defer s.done()
	return s.p.GenerateKeyPair(sh, m, public, private)
}

func (s *serialCalls) WrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrappingKey, key pkcs11.ObjectHandle) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.WrapKey(sh, m, wrappingKey, key)
}

func (s *serialCalls) UnwrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, unwrappingKey pkcs11.ObjectHandle, wrapped []byte, a []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := s.turn(); err != nil {
		return 0, err
	}
	defer s.done()
	return s.p.UnwrapKey(sh, m, unwrappingKey, wrapped, a)
}

func (s *serialCalls) EncryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.EncryptInit(sh, m, o)
}

func (s *serialCalls) Encrypt(sh pkcs11.SessionHandle, message []byte) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.Encrypt(sh, message)
}

func (s *serialCalls) DecryptInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.DecryptInit(sh, m, o)
}

func (s *serialCalls) Decrypt(sh pkcs11.SessionHandle, cipher []byte) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.Decrypt(sh, cipher)
}

func (s *serialCalls) EncryptUpdate(sh pkcs11.SessionHandle, plain []byte) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.EncryptUpdate(sh, plain)
}

func (s *serialCalls) EncryptFinal(sh pkcs11.SessionHandle) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.EncryptFinal(sh)
}

func (s *serialCalls) DecryptUpdate(sh pkcs11.SessionHandle, cipher []byte) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.DecryptUpdate(sh, cipher)
}

func (s *serialCalls) DecryptFinal(sh pkcs11.SessionHandle) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.DecryptFinal(sh)
}

func (s *serialCalls) SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.SignInit(sh, m, o)
}

func (s *serialCalls) Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.Sign(sh, message)
}

func (s *serialCalls) VerifyInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, key pkcs11.ObjectHandle) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.VerifyInit(sh, m, key)
}

func (s *serialCalls) Verify(sh pkcs11.SessionHandle, data []byte, signature []byte) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.Verify(sh, data, signature)
}

func (s *serialCalls) GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error) {
	if err := s.turn(); err != nil {
		return nil, err
	}
	defer s.done()
	return s.p.GenerateRandom(sh, length)
}

func (s *serialCalls) CloseAllSessions(slotID uint) error {
	if err := s.turn(); err != nil {
		return err
	}
	defer s.done()
	return s.p.CloseAllSessions(slotID)
}

var _ p11 = (*serialCalls)(nil)
