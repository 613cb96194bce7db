package pkcs11

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

func init() {
	backend.Register("pkcs11", func(ctx context.Context, cfg config.Backend) (backend.Backend, error) {
		b, err := Open(ctx, cfg.PKCS11)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return b, nil
	})
}

// Backend is the root of trust on one HSM partition. All methods are safe
// for concurrent use.
type Backend struct {
	// life is held shared by every call and exclusively by Close, so Close
	// waits for calls in flight and no call starts on a closed Backend.
	life   sync.RWMutex
	closed bool
	m      *member
}

// member is one HSM partition reached through one module: its sessions,
// login and cached handles. A Backend has one today; an HA set of HSMs
// holding the same labels would be several, tried in turn.
type member struct {
	mod   *module
	slot  uint
	token string // token label, for messages
	pin   string
	mech  mechanisms
	cfg   config.PKCS11
	pool  *pool

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
}

var errClosed = fmt.Errorf("%w: pkcs11: backend is closed", backend.ErrUnavailable)

// Open connects to the token labelled cfg.TokenLabel through cfg.Module,
// logs in with the PIN from cfg.PIN and resolves the key set by label.
//
// Open fails if the module, the token or the login fails. A missing or
// unusable key does not make it fail: Check reports it key by key (so that
// `kmipctl hsm check` can say what to fix), and the calls that need the key
// return an error matching backend.ErrKeyMissing. The server runs Check at
// start and refuses to serve on a failure.
//
// The Backend keeps up to cfg.SessionPoolSize sessions for calls, plus one
// anchor session that owns the unwrapped tenant KEKs.
func Open(ctx context.Context, cfg config.PKCS11) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Module == "":
		return nil, errors.New("pkcs11: module: required")
	case cfg.TokenLabel == "":
		return nil, errors.New("pkcs11: token_label: required")
	case cfg.MKEKLabel == "" || cfg.SKEYLabel == "" || cfg.IKEYLabel == "" || cfg.TKEKPrefix == "":
		return nil, errors.New("pkcs11: mkek_label, skey_label, ikey_label and tkek_prefix are required")
	case cfg.SessionPoolSize < 1:
		return nil, fmt.Errorf("pkcs11: session_pool_size: %d is less than 1", cfg.SessionPoolSize)
	}
	mech, err := mechanismsFor(cfg.Mechanisms)
	if err != nil {
		return nil, err
	}
	pin, err := cfg.PIN.Value()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: pin: %w", err) // names the source, never the value
	}
	m, err := openMember(ctx, cfg, pin, mech)
	if err != nil {
		return nil, err
	}
	return &Backend{m: m}, nil
}

func openMember(ctx context.Context, cfg config.PKCS11, pin string, mech mechanisms) (*member, error) {
	mod, err := acquireModule(cfg.Module, cfg.SoftHSM2Conf)
	if err != nil {
		return nil, err
	}
	slot, err := findSlot(mod, cfg.TokenLabel)
	if err != nil {
		mod.release()
		return nil, err
	}
	m := &member{
		mod: mod, slot: slot, token: cfg.TokenLabel, pin: pin, mech: mech, cfg: cfg,
		keys: map[string]keyRef{},
		keks: map[[sha256.Size]byte]pkcs11.ObjectHandle{},
	}
	m.pool = newPool(cfg.SessionPoolSize, m.openSession, m.closeSession)
	// Opening the anchor logs in: a wrong PIN fails here, not later.
	if err := m.withAnchor(func(pkcs11.SessionHandle) error { return nil }); err != nil {
		mod.release()
		return nil, err
	}
	// Resolve the key set now so the handles are cached; what is missing
	// is resolved again when needed (and reported by Check).
	_ = m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		for _, spec := range m.keySpecs() {
			_, _ = m.key(s, spec)
		}
		return nil
	})
	return m, nil
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
		return 0, fmt.Errorf("%w: pkcs11: C_OpenSession on token %q: %w", backend.ErrUnavailable, m.token, err)
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
	return fmt.Errorf("%w: pkcs11: C_Login to token %q: %w", backend.ErrUnavailable, m.token, err)
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
func (m *member) withSession(ctx context.Context, fn func(pkcs11.SessionHandle) error) error {
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
			// Retrying on this module cannot help until it is initialized
			// again (a member reset, with the HA work).
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

// unavailable wraps the failure of a PKCS#11 call as ErrUnavailable,
// keeping the return value in the chain for the retry loops. Errors that
// already say what they are (a missing key, a failed integrity check) are
// only given context.
func unavailable(op string, err error) error {
	if errors.Is(err, backend.ErrKeyMissing) || errors.Is(err, backend.ErrIntegrity) || errors.Is(err, backend.ErrUnavailable) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", backend.ErrUnavailable, op, err)
}

// mac makes the SKEY's MAC of msg.
func (m *member) mac(s pkcs11.SessionHandle, skey keyRef, msg []byte) ([]byte, error) {
	if err := m.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(skey.macMech, nil)}, skey.h); err != nil {
		return nil, unavailable("C_SignInit", err)
	}
	out, err := m.mod.Sign(s, msg)
	if err != nil {
		return nil, unavailable("C_Sign", err)
	}
	return out, nil
}

// verifyMAC checks the SKEY's MAC of msg inside the HSM (C_Verify compares
// in constant time there). A wrong MAC is ErrIntegrity.
func (m *member) verifyMAC(s pkcs11.SessionHandle, skey keyRef, msg, mac []byte) error {
	if err := m.mod.VerifyInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(skey.macMech, nil)}, skey.h); err != nil {
		return unavailable("C_VerifyInit", err)
	}
	if err := m.mod.Verify(s, msg, mac); err != nil {
		if isMACMismatch(err) {
			return fmt.Errorf("%w: MAC does not verify", backend.ErrIntegrity)
		}
		return unavailable("C_Verify", err)
	}
	return nil
}

// tenantKEK returns the unwrapped KEK of a tenant key: from the cache, or
// by verifying the blob's MAC and unwrapping it on the anchor session.
func (m *member) tenantKEK(s pkcs11.SessionHandle, tk backend.TenantKey) (pkcs11.ObjectHandle, [sha256.Size]byte, error) {
	k := kekCacheKey(tk)
	if h, ok := m.cachedKEK(k); ok {
		return h, k, nil
	}
	blob, err := parseTenantKey(tk.Blob)
	if err != nil {
		return 0, k, err
	}
	skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
	if err != nil {
		return 0, k, unavailable("SKEY", err)
	}
	if err := m.verifyMAC(s, skey, macInput(tk.TenantID, blob.signed), blob.mac); err != nil {
		return 0, k, fmt.Errorf("tenant key blob: %w", err)
	}
	var h pkcs11.ObjectHandle
	err = m.withAnchor(func(a pkcs11.SessionHandle) error {
		if cached, ok := m.cachedKEK(k); ok { // unwrapped while we waited
			h = cached
			return nil
		}
		mkek, err := m.key(a, mkekSpec(m.cfg.MKEKLabel))
		if err != nil {
			return unavailable("MKEK", err)
		}
		h, err = m.mod.UnwrapKey(a, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, mkek.h, blob.wrapped, kekTemplate())
		if err != nil {
			// The MAC verified, so the blob is ours: if the MKEK cannot
			// unwrap it, the MKEK is not the one that wrapped it.
			// SoftHSM2 answers a failed unwrap with CKR_GENERAL_ERROR.
			if isRV(err, pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE, pkcs11.CKR_GENERAL_ERROR) {
				return fmt.Errorf("%w: the MKEK %q cannot unwrap this tenant key (was it replaced?): %w",
					backend.ErrKeyMissing, m.cfg.MKEKLabel, err)
			}
			return unavailable("C_UnwrapKey", err)
		}
		m.keksMu.Lock()
		m.keks[k] = h
		m.keksMu.Unlock()
		return nil
	})
	return h, k, err
}

// kekTemplate: an unwrapped tenant KEK lives only in the HSM, only for this
// process, and can never leave it again.
func kekTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
	}
}

// newKeyTemplate is a fresh AES-256 session key that may be wrapped.
func newKeyTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
	}
}

// enter starts a call: it holds life shared until the returned func runs.
func (b *Backend) enter() (func(), error) {
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return nil, errClosed
	}
	return b.life.RUnlock, nil
}

// NewTenantKey generates an AES-256 KEK in the HSM, wraps it with the MKEK
// (AES key wrap with padding), destroys the generated object and returns
// the blob, MACed with the SKEY and bound to tenantID (format in blob.go).
func (b *Backend) NewTenantKey(ctx context.Context, tenantID string) (backend.TenantKey, error) {
	if tenantID == "" {
		return backend.TenantKey{}, errors.New("pkcs11: new tenant key: empty tenant ID")
	}
	leave, err := b.enter()
	if err != nil {
		return backend.TenantKey{}, err
	}
	defer leave()
	m := b.m
	var blob []byte
	err = m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		mkek, err := m.key(s, mkekSpec(m.cfg.MKEKLabel))
		if err != nil {
			return unavailable("MKEK", err)
		}
		skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
		if err != nil {
			return unavailable("SKEY", err)
		}
		h, err := m.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, newKeyTemplate())
		if err != nil {
			return unavailable("C_GenerateKey", err)
		}
		// The object is only needed for wrapping; if the session dies
		// first, the object dies with it.
		defer func() { _ = m.mod.DestroyObject(s, h) }()
		wrapped, err := m.mod.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, mkek.h, h)
		if err != nil {
			return unavailable("C_WrapKey", err)
		}
		b, err := encodeTenantKey(wrapped)
		if err != nil {
			return err
		}
		mac, err := m.mac(s, skey, macInput(tenantID, b))
		if err != nil {
			return err
		}
		blob = append(b, mac...)
		return nil
	})
	if err != nil {
		return backend.TenantKey{}, fmt.Errorf("pkcs11: new tenant key: %w", err)
	}
	return backend.TenantKey{TenantID: tenantID, Blob: blob}, nil
}

// Seal encrypts req.Plaintext with AES-GCM inside the HSM under the tenant
// KEK, with a fresh IV from the HSM's RNG and req.AdditionalData as AAD
// (format in blob.go).
func (b *Backend) Seal(ctx context.Context, req backend.SealRequest) ([]byte, error) {
	leave, err := b.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	m := b.m
	var out []byte
	err = m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		kek, k, err := m.tenantKEK(s, req.Key)
		if err != nil {
			return err
		}
		iv, err := m.mod.GenerateRandom(s, gcmIVSize)
		if err != nil {
			return unavailable("C_GenerateRandom", err)
		}
		gcm := pkcs11.NewGCMParams(iv, req.AdditionalData, gcmTagBits)
		defer gcm.Free()
		if err := m.mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, kek); err != nil {
			if isHandleInvalid(err) {
				m.dropKEK(k)
			}
			return unavailable("C_EncryptInit", err)
		}
		ct, err := m.mod.Encrypt(s, req.Plaintext)
		if err != nil {
			return unavailable("C_Encrypt", err)
		}
		// Some HSMs (Luna in FIPS mode) make their own IV and write it
		// back into the parameters: store the IV actually used.
		if used := gcm.IV(); len(used) == gcmIVSize {
			iv = used
		}
		out = make([]byte, 0, sealedHeader+len(ct))
		out = append(out, sealedVersion)
		out = append(out, iv...)
		out = append(out, ct...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: seal: %w", err)
	}
	return out, nil
}

// Open decrypts what Seal made. A changed ciphertext, tenant key blob or
// additional data gives an error matching backend.ErrIntegrity.
func (b *Backend) Open(ctx context.Context, req backend.OpenRequest) ([]byte, error) {
	if len(req.Ciphertext) < sealedHeader+gcmTagBits/8 {
		return nil, fmt.Errorf("pkcs11: open: %w: ciphertext is %d bytes", backend.ErrIntegrity, len(req.Ciphertext))
	}
	if req.Ciphertext[0] != sealedVersion {
		return nil, fmt.Errorf("pkcs11: open: %w: ciphertext version 0x%02X is unknown", backend.ErrIntegrity, req.Ciphertext[0])
	}
	leave, err := b.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	m := b.m
	iv, ct := req.Ciphertext[1:sealedHeader], req.Ciphertext[sealedHeader:]
	var out []byte
	err = m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		kek, k, err := m.tenantKEK(s, req.Key)
		if err != nil {
			return err
		}
		gcm := pkcs11.NewGCMParams(iv, req.AdditionalData, gcmTagBits)
		defer gcm.Free()
		if err := m.mod.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, kek); err != nil {
			if isHandleInvalid(err) {
				m.dropKEK(k)
			}
			return unavailable("C_DecryptInit", err)
		}
		pt, err := m.mod.Decrypt(s, ct)
		if err != nil {
			if isAuthFailure(err) {
				return fmt.Errorf("%w: AES-GCM authentication failed", backend.ErrIntegrity)
			}
			return unavailable("C_Decrypt", err)
		}
		out = pt
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: open: %w", err)
	}
	return out, nil
}

// Random returns n bytes from the HSM's random number generator.
func (b *Backend) Random(ctx context.Context, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("pkcs11: random: negative length %d", n)
	}
	if n == 0 {
		return []byte{}, nil
	}
	leave, err := b.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	var out []byte
	err = b.m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		r, err := b.m.mod.GenerateRandom(s, n)
		if err != nil {
			return unavailable("C_GenerateRandom", err)
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: random: %w", err)
	}
	return out, nil
}

// Close destroys the unwrapped tenant KEKs, closes every session and
// releases the module (C_Finalize once no Backend of the process uses it).
// It waits for calls in flight. Calling it again does nothing.
func (b *Backend) Close() error {
	b.life.Lock()
	defer b.life.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.m.close()
	return nil
}

func (m *member) close() {
	m.pool.drain() // no call is in flight: every session is idle
	m.anchorMu.Lock()
	if m.hasAnchor {
		m.keksMu.Lock()
		for _, h := range m.keks {
			_ = m.mod.DestroyObject(m.anchor, h) // closing the anchor would too; be explicit
		}
		clear(m.keks)
		m.keksMu.Unlock()
		m.closeSession(m.anchor)
		m.hasAnchor = false
	}
	m.anchorMu.Unlock()
	m.pin = ""
	m.mod.release()
}

// Interface guards.
var (
	_ backend.Backend      = (*Backend)(nil)
	_ backend.RandomSource = (*Backend)(nil)
	_ backend.Checker      = (*Backend)(nil)
)
