package pkcs11

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Secure import through the transport keys (backend.TransportImporter).
//
// A TKEK import of a key that is kept (not Extractable) is one session:
// C_UnwrapKey with RSA-OAEP under the TKEK's private key into a session
// AES object (sensitive, extractable only to be wrapped once), C_WrapKey
// of it under the tenant KEK (the kept form, as KeepSecretKey makes it),
// and the object destroyed: the plaintext never leaves the HSM. A key that
// is sealed as usual is decrypted by C_Decrypt inside the HSM instead and
// handed to the caller, who seals it.
//
// The IKEY path is the same with DES3-CBC-PAD; SoftHSM2 has no C_UnwrapKey
// with DES3 (DESIGN.md section 9) and a Luna partition in FIPS mode
// refuses DES3 altogether: both answer with an error wrapping
// backend.ErrTransportRefused that says so. The decrypting path (C_Decrypt
// with DES3-CBC-PAD) works on SoftHSM2.

var _ backend.TransportImporter = (*Backend)(nil)

// oaepCryptoHash is the crypto.Hash of the configured OAEP hash name.
var oaepCryptoHash = map[string]crypto.Hash{"sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

// TransportKeys implements backend.TransportImporter: the TKEK public keys
// as the HSM holds them, and the IKEY (no public part).
func (b *Backend) TransportKeys(ctx context.Context) ([]backend.TransportKey, error) {
	return onMember(b, ctx, "transport keys", func(m *member) ([]backend.TransportKey, error) {
		var out []backend.TransportKey
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			out = out[:0]
			for i := 1; i <= m.cfg.TKEKCount; i++ {
				ref, err := m.key(s, tkekPublicSpec(m.cfg.TKEKPrefix, i))
				if err != nil {
					return unavailable(tkekLabel("TKEK", i), err)
				}
				pub, err := m.publicKey(s, ref.h, keptRSA, nil)
				if err != nil {
					return err
				}
				out = append(out, backend.TransportKey{Label: tkekLabel(m.cfg.TKEKPrefix, i), Group: m.cfg.TKEKPrefix, Public: pub, OAEPHash: oaepCryptoHash[m.mech.oaepHashName]})
			}
			if m.cfg.IKEYLabel != "" {
				out = append(out, backend.TransportKey{Label: m.cfg.IKEYLabel})
			}
			return nil
		})
		return out, err
	})
}

// transportKey resolves the transport key a request names and the
// mechanism that decrypts under it.
func (m *member) transportKey(s pkcs11.SessionHandle, req backend.TransportImportRequest) (pkcs11.ObjectHandle, *pkcs11.Mechanism, error) {
	switch req.Mechanism {
	case backend.TransportRSAOAEP:
		for i := 1; i <= m.cfg.TKEKCount; i++ {
			if tkekLabel(m.cfg.TKEKPrefix, i) != req.Label {
				continue
			}
			ref, err := m.key(s, tkekPrivateSpec(m.cfg.TKEKPrefix, i))
			if err != nil {
				return 0, nil, unavailable(req.Label, err)
			}
			return ref.h, m.mech.oaepMechanism(), nil
		}
		return 0, nil, fmt.Errorf("%w: %q is not a TKEK of this partition", errUnknownTransportKey, req.Label)
	case backend.TransportDES3CBCPad:
		if req.Label != m.cfg.IKEYLabel || req.Label == "" {
			return 0, nil, fmt.Errorf("%w: %q is not the IKEY of this partition", errUnknownTransportKey, req.Label)
		}
		if len(req.IV) != 8 {
			return 0, nil, fmt.Errorf("%w: DES3-CBC needs an 8-byte IV, got %d bytes", errBadTransportInput, len(req.IV))
		}
		ref, err := m.key(s, ikeySpec(m.cfg.IKEYLabel))
		if err != nil {
			return 0, nil, unavailable("IKEY", err)
		}
		return ref.h, pkcs11.NewMechanism(pkcs11.CKM_DES3_CBC_PAD, req.IV), nil
	}
	return 0, nil, fmt.Errorf("%w: unknown transport mechanism %d", errBadTransportInput, req.Mechanism)
}

var (
	errUnknownTransportKey = fmt.Errorf("%w: unknown transport key", backend.ErrTransportInput)
	errBadTransportInput   = backend.ErrTransportInput
)

// IsTransportInputError reports whether err is the caller's fault: an
// unknown transport key, a malformed request, or material that does not
// decrypt under the key named (ciphertext or key wrong).
func IsTransportInputError(err error) bool {
	return errors.Is(err, errUnknownTransportKey) || errors.Is(err, errBadTransportInput)
}

// transportFailure classifies an error of C_UnwrapKey or C_Decrypt under a
// transport key: a refused mechanism is the partition's, bad ciphertext
// the client's, anything else the HSM's.
func transportFailure(call string, mech backend.TransportMechanism, err error) error {
	switch {
	case isRV(err, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, pkcs11.CKR_FUNCTION_NOT_SUPPORTED):
		what := "RSA-OAEP"
		if mech == backend.TransportDES3CBCPad {
			what = "DES3-CBC-PAD (DES3 is refused in FIPS mode; SoftHSM2 has no DES3 unwrap: register the key as Extractable, or use a TKEK)"
		}
		return fmt.Errorf("%w: %s with %s: %w", backend.ErrTransportRefused, call, what, err)
	case isRV(err, pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE, pkcs11.CKR_WRAPPED_KEY_INVALID,
		pkcs11.CKR_WRAPPED_KEY_LEN_RANGE, pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_TEMPLATE_INCONSISTENT, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID):
		return fmt.Errorf("%w: the material does not decrypt under the transport key to an AES key: %w", errBadTransportInput, err)
	}
	return unavailable(call, err)
}

// ImportKept implements backend.TransportImporter.
func (b *Backend) ImportKept(ctx context.Context, req backend.TransportImportRequest) ([]byte, int, error) {
	type result struct {
		wrapped []byte
		bits    int
	}
	r, err := onMember(b, ctx, "import kept key", func(m *member) (result, error) {
		var r result
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			tk, mech, err := m.transportKey(s, req)
			if err != nil {
				return err
			}
			kek, err := m.wrappingKEK(s, req.Key)
			if err != nil {
				return err
			}
			defer func() { _ = m.mod.DestroyObject(s, kek) }()
			tmpl := []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), // to be wrapped, once
				pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			}
			h, err := m.mod.UnwrapKey(s, []*pkcs11.Mechanism{mech}, tk, req.Encrypted, tmpl)
			if err != nil {
				return transportFailure("C_UnwrapKey", req.Mechanism, err)
			}
			defer func() { _ = m.mod.DestroyObject(s, h) }()
			wrapped, err := m.mod.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, kek, h)
			if err != nil {
				return unavailable("C_WrapKey", err)
			}
			// SoftHSM2 leaves CKA_VALUE_LEN at 0 on an unwrapped key; AES
			// key wrap with padding (RFC 5649) of a key whose length is a
			// multiple of 8 adds exactly 8 bytes, so the length shows.
			bits := (len(wrapped) - 8) * 8
			if bits != 128 && bits != 192 && bits != 256 {
				return fmt.Errorf("%w: the unwrapped data is not an AES key (%d bytes wrapped)", errBadTransportInput, len(wrapped))
			}
			r = result{wrapped: append([]byte{keptAES}, wrapped...), bits: bits}
			return nil
		})
		return r, err
	})
	return r.wrapped, r.bits, err
}

// DecryptTransport implements backend.TransportImporter.
func (b *Backend) DecryptTransport(ctx context.Context, req backend.TransportImportRequest) ([]byte, error) {
	return onMember(b, ctx, "decrypt transport import", func(m *member) ([]byte, error) {
		var out []byte
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			tk, mech, err := m.transportKey(s, req)
			if err != nil {
				return err
			}
			if err := m.mod.DecryptInit(s, []*pkcs11.Mechanism{mech}, tk); err != nil {
				return transportFailure("C_DecryptInit", req.Mechanism, err)
			}
			out, err = m.mod.Decrypt(s, req.Encrypted)
			if err != nil {
				return transportFailure("C_Decrypt", req.Mechanism, err)
			}
			return nil
		})
		return out, err
	})
}
