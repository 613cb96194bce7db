package pkcs11

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// The envelope on one member: what Backend's methods run on whichever
// member the set picks. Every method borrows a pooled session.

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
	if err := m.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.macFor(skey.macMech), nil)}, skey.h); err != nil {
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
	if err := m.mod.VerifyInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.macFor(skey.macMech), nil)}, skey.h); err != nil {
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
	if err := m.verifyMAC(s, skey, macInput(blob.version, tk.TenantID, blob.signed), blob.mac); err != nil {
		return 0, k, fmt.Errorf("tenant key blob: %w", err)
	}
	var h pkcs11.ObjectHandle
	err = m.withAnchor(func(a pkcs11.SessionHandle) error {
		if cached, ok := m.cachedKEK(k); ok { // unwrapped while we waited
			h = cached
			return nil
		}
		var err error
		h, err = m.unwrapTenantKey(a, blob, kekTemplate())
		if err != nil {
			return err
		}
		m.keksMu.Lock()
		m.keks[k] = h
		m.keksMu.Unlock()
		return nil
	})
	return h, k, err
}

// mkekLabelOf is the label of the MKEK that wrapped blob.
func (m *member) mkekLabelOf(blob tenantKeyBlob) string {
	switch {
	case blob.mkek != "":
		return blob.mkek
	case m.cfg.MKEKV1Label != "":
		return m.cfg.MKEKV1Label
	}
	return m.cfg.MKEKLabel
}

// mkekSpecFor finds an MKEK by label: the configured one is "MKEK" (as
// Check names it), another one (the MKEK before a rotation) is cached
// under its own name.
func (m *member) mkekSpecFor(label string) keySpec {
	spec := mkekSpec(label)
	if label != m.cfg.MKEKLabel {
		spec.name = "MKEK " + label
	}
	return spec
}

// unwrapTenantKey unwraps a blob whose MAC verified on s, with its MKEK,
// as a session object made from tmpl.
func (m *member) unwrapTenantKey(s pkcs11.SessionHandle, blob tenantKeyBlob, tmpl []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	label := m.mkekLabelOf(blob)
	mkek, err := m.key(s, m.mkekSpecFor(label))
	if err != nil {
		return 0, unavailable("MKEK", err)
	}
	h, err := m.mod.UnwrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, mkek.h, blob.wrapped, tmpl)
	if err != nil {
		// The MAC verified, so the blob is ours: if the MKEK cannot
		// unwrap it, the MKEK is not the one that wrapped it. SoftHSM2
		// answers a failed unwrap with CKR_GENERAL_ERROR.
		if isRV(err, pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE, pkcs11.CKR_GENERAL_ERROR) {
			return 0, fmt.Errorf("%w: the MKEK %q of %s cannot unwrap this tenant key (was it replaced?): %w",
				backend.ErrKeyMissing, label, m, err)
		}
		return 0, unavailable("C_UnwrapKey", err)
	}
	return h, nil
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

// newTenantKey: see Backend.NewTenantKey.
func (m *member) newTenantKey(ctx context.Context, tenantID string) ([]byte, error) {
	var blob []byte
	err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
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
		b, err := encodeTenantKey(m.cfg.MKEKLabel, wrapped)
		if err != nil {
			return err
		}
		mac, err := m.mac(s, skey, macInput(tenantKeyVersion, tenantID, b))
		if err != nil {
			return err
		}
		blob = append(b, mac...)
		return nil
	})
	return blob, err
}

// seal: see Backend.Seal.
func (m *member) seal(ctx context.Context, req backend.SealRequest) ([]byte, error) {
	var out []byte
	err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		kek, k, err := m.tenantKEK(s, req.Key)
		if err != nil {
			return err
		}
		iv, err := m.ivs.take(func(n int) ([]byte, error) { return m.mod.GenerateRandom(s, n) })
		if err != nil {
			return unavailable("C_GenerateRandom", err)
		}
		gcm := pkcs11.NewGCMParams(iv, req.AdditionalData, gcmTagBits)
		defer gcm.Free()
		if err := m.mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.gcm, gcm)}, kek); err != nil {
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
	return out, err
}

// open: see Backend.Open. The ciphertext's header was checked.
func (m *member) open(ctx context.Context, req backend.OpenRequest) ([]byte, error) {
	iv, ct := req.Ciphertext[1:sealedHeader], req.Ciphertext[sealedHeader:]
	var out []byte
	err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		kek, k, err := m.tenantKEK(s, req.Key)
		if err != nil {
			return err
		}
		gcm := pkcs11.NewGCMParams(iv, req.AdditionalData, gcmTagBits)
		defer gcm.Free()
		for attempt := 1; ; attempt++ {
			if err := m.mod.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.gcm, gcm)}, kek); err != nil {
				if isHandleInvalid(err) {
					m.dropKEK(k)
				}
				return unavailable("C_DecryptInit", err)
			}
			pt, err := m.mod.Decrypt(s, ct)
			switch {
			case err == nil:
				out = pt
				return nil
			case attempt == 1 && isRV(err, pkcs11.CKR_GENERAL_ERROR):
				// SoftHSM2's answer to a bad tag, but also a module's
				// to a passing failure: asked once more, so that one
				// failure is not reported as tampered data.
				continue
			case isAuthFailure(err):
				return fmt.Errorf("%w: AES-GCM authentication failed", backend.ErrIntegrity)
			}
			return unavailable("C_Decrypt", err)
		}
	})
	return out, err
}

// random: see Backend.Random.
func (m *member) random(ctx context.Context, n int) ([]byte, error) {
	var out []byte
	err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		r, err := m.mod.GenerateRandom(s, n)
		if err != nil {
			return unavailable("C_GenerateRandom", err)
		}
		out = r
		return nil
	})
	return out, err
}
