package pkcs11

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Root rotation. The operator makes a new MKEK on every partition of the
// set (the same key on each, under a new label), sets mkek_label to it and
// mkek_v1_label to the old label (needed only for blobs made before blob
// version 2), and rewraps every tenant key (`kmipctl hsm rotate`).
// Meanwhile every tenant key keeps opening: a version 2 blob names its
// MKEK, and the old MKEK stays on the partition until the rewrap is done.
// A rewrap is per tenant and idempotent, so a rotation that stops half
// way (a crash, an HSM outage) is resumed by running it again.

// NeedsRewrap reports whether a tenant key is wrapped by another MKEK than
// the configured one (or by a blob version that does not name it). It
// looks at the blob only; a malformed blob is ErrIntegrity.
func (b *Backend) NeedsRewrap(tk backend.TenantKey) (bool, error) {
	blob, err := parseTenantKey(tk.Blob)
	if err != nil {
		return false, fmt.Errorf("pkcs11: tenant key of %q: %w", tk.TenantID, err)
	}
	return blob.version != tenantKeyVersion || blob.mkek != b.cfg.MKEKLabel, nil
}

// RewrapTenantKey returns tk wrapped by the configured MKEK: the blob's
// MAC is verified, the KEK is unwrapped inside the HSM by the MKEK that
// wrapped it (as a session object that may be wrapped again, never
// leaving the HSM in the clear), wrapped by the configured MKEK, MACed,
// and destroyed. The KEK itself does not change, so everything sealed
// under it still opens. A key that needs no rewrap is returned as it is.
func (b *Backend) RewrapTenantKey(ctx context.Context, tk backend.TenantKey) (backend.TenantKey, error) {
	need, err := b.NeedsRewrap(tk)
	if err != nil || !need {
		return tk, err
	}
	blob, err := onMember(b, ctx, fmt.Sprintf("rewrap tenant key of %q", tk.TenantID), func(m *member) ([]byte, error) {
		return m.rewrap(ctx, tk)
	})
	if err != nil {
		return backend.TenantKey{}, err
	}
	return backend.TenantKey{TenantID: tk.TenantID, Blob: blob}, nil
}

// rewrapTemplate: the KEK as a session object that may be wrapped once,
// by the new MKEK, and is never readable.
func rewrapTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}
}

func (m *member) rewrap(ctx context.Context, tk backend.TenantKey) ([]byte, error) {
	var out []byte
	err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		blob, err := parseTenantKey(tk.Blob)
		if err != nil {
			return err
		}
		skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
		if err != nil {
			return unavailable("SKEY", err)
		}
		if err := m.verifyMAC(s, skey, macInput(blob.version, tk.TenantID, blob.signed), blob.mac); err != nil {
			return fmt.Errorf("tenant key blob: %w", err)
		}
		mkek, err := m.key(s, mkekSpec(m.cfg.MKEKLabel))
		if err != nil {
			return unavailable("MKEK", err)
		}
		h, err := m.unwrapTenantKey(s, blob, rewrapTemplate())
		if err != nil {
			return err
		}
		defer func() { _ = m.mod.DestroyObject(s, h) }()
		wrapped, err := m.mod.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, mkek.h, h)
		if err != nil {
			return unavailable("C_WrapKey", err)
		}
		b, err := encodeTenantKey(m.cfg.MKEKLabel, wrapped)
		if err != nil {
			return err
		}
		mac, err := m.mac(s, skey, macInput(tenantKeyVersion, tk.TenantID, b))
		if err != nil {
			return err
		}
		out = append(b, mac...)
		return nil
	})
	return out, err
}
