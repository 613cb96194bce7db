package pkcs11

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Check verifies the key set object by object (MKEK, SKEY, IKEY, each TKEK
// pair), then runs two self tests: a temporary key wrapped and unwrapped
// by the MKEK with the configured key-wrap-with-padding mechanism, and a
// MAC made and verified with the SKEY. It looks every key up afresh, not
// from the handle cache, because its job is to see the partition as it is.
func (b *Backend) Check(ctx context.Context) []backend.CheckResult {
	leave, err := b.enter()
	if err != nil {
		return []backend.CheckResult{{Name: "backend", Detail: err.Error()}}
	}
	defer leave()
	m := b.m
	var out []backend.CheckResult
	err = m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		out = m.check(s)
		return nil
	})
	if err != nil {
		return []backend.CheckResult{{Name: "session", Label: m.token, Detail: err.Error()}}
	}
	return out
}

func (m *member) check(s pkcs11.SessionHandle) []backend.CheckResult {
	var out []backend.CheckResult
	single := func(spec keySpec) keyRef {
		r, err := resolve(m.mod, s, spec)
		res := backend.CheckResult{Name: spec.name, Label: spec.label, OK: err == nil, Detail: r.desc}
		if err != nil {
			res.Detail = err.Error()
			r = keyRef{}
		}
		out = append(out, res)
		return r
	}
	mkek := single(mkekSpec(m.cfg.MKEKLabel))
	skey := single(skeySpec(m.cfg.SKEYLabel))
	single(ikeySpec(m.cfg.IKEYLabel))
	for i := 1; i <= m.cfg.TKEKCount; i++ {
		out = append(out, m.checkTKEK(s, i))
	}

	kwp := backend.CheckResult{Name: "self-test key wrap", Label: m.cfg.MKEKLabel}
	if mkek.h == 0 {
		kwp.Detail = "skipped: the MKEK is missing or unusable"
	} else if err := m.wrapSelfTest(s, mkek); err != nil {
		kwp.Detail = fmt.Sprintf("mechanism 0x%X: %v", m.mech.kwp, err)
	} else {
		kwp.OK = true
		kwp.Detail = fmt.Sprintf("mechanism 0x%X: a temporary AES-256 key wrapped and unwrapped; AES-GCM agrees across the pair", m.mech.kwp)
	}
	out = append(out, kwp)

	mac := backend.CheckResult{Name: "self-test MAC", Label: m.cfg.SKEYLabel}
	if skey.h == 0 {
		mac.Detail = "skipped: the SKEY is missing or unusable"
	} else if err := m.macSelfTest(s, skey); err != nil {
		mac.Detail = fmt.Sprintf("mechanism 0x%X: %v", skey.macMech, err)
	} else {
		mac.OK = true
		mac.Detail = fmt.Sprintf("mechanism 0x%X: a MAC made and verified; a changed message is refused", skey.macMech)
	}
	return append(out, mac)
}

// checkTKEK judges one TKEK pair: the private key, its public key, and
// that they belong together.
func (m *member) checkTKEK(s pkcs11.SessionHandle, i int) backend.CheckResult {
	privSpec, pubSpec := tkekPrivateSpec(m.cfg.TKEKPrefix, i), tkekPublicSpec(m.cfg.TKEKPrefix, i)
	res := backend.CheckResult{Name: privSpec.name, Label: privSpec.label}
	var problems []string
	priv, err := resolve(m.mod, s, privSpec)
	if err != nil {
		problems = append(problems, err.Error())
	}
	pub, perr := resolve(m.mod, s, pubSpec)
	if perr != nil {
		problems = append(problems, perr.Error())
	}
	if err == nil && perr == nil && !bytes.Equal(priv.modulus, pub.modulus) {
		problems = append(problems, "the public key does not match the private key (different modulus)")
	}
	if len(problems) > 0 {
		res.Detail = strings.Join(problems, "; ")
		return res
	}
	res.OK = true
	res.Detail = priv.desc + ", and its public key"
	return res
}

// wrapSelfTest wraps a temporary key with the MKEK, unwraps it again, and
// checks that both copies are the same key: what one encrypts, the other
// decrypts. Both are session objects, destroyed before returning.
func (m *member) wrapSelfTest(s pkcs11.SessionHandle, mkek keyRef) error {
	tmp, err := m.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, newKeyTemplate())
	if err != nil {
		return fmt.Errorf("C_GenerateKey: %w", err)
	}
	defer func() { _ = m.mod.DestroyObject(s, tmp) }()
	kw := []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}
	wrapped, err := m.mod.WrapKey(s, kw, mkek.h, tmp)
	if err != nil {
		return fmt.Errorf("C_WrapKey: %w", err)
	}
	back, err := m.mod.UnwrapKey(s, kw, mkek.h, wrapped, kekTemplate())
	if err != nil {
		return fmt.Errorf("C_UnwrapKey: %w", err)
	}
	defer func() { _ = m.mod.DestroyObject(s, back) }()

	msg, err := m.mod.GenerateRandom(s, 32)
	if err != nil {
		return fmt.Errorf("C_GenerateRandom: %w", err)
	}
	iv := make([]byte, gcmIVSize) // a zero IV is fine for a key used once
	ct, err := m.gcm(s, true, tmp, iv, msg)
	if err != nil {
		return err
	}
	pt, err := m.gcm(s, false, back, iv, ct)
	if err != nil {
		return err
	}
	if !bytes.Equal(pt, msg) {
		return errors.New("the unwrapped key is not the key that was wrapped")
	}
	return nil
}

// gcm runs one AES-GCM encryption or decryption (no AAD).
func (m *member) gcm(s pkcs11.SessionHandle, encrypt bool, key pkcs11.ObjectHandle, iv, in []byte) ([]byte, error) {
	params := pkcs11.NewGCMParams(iv, nil, gcmTagBits)
	defer params.Free()
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}
	if encrypt {
		if err := m.mod.EncryptInit(s, mech, key); err != nil {
			return nil, fmt.Errorf("C_EncryptInit AES-GCM: %w", err)
		}
		out, err := m.mod.Encrypt(s, in)
		if err != nil {
			return nil, fmt.Errorf("C_Encrypt AES-GCM: %w", err)
		}
		return out, nil
	}
	if err := m.mod.DecryptInit(s, mech, key); err != nil {
		return nil, fmt.Errorf("C_DecryptInit AES-GCM: %w", err)
	}
	out, err := m.mod.Decrypt(s, in)
	if err != nil {
		return nil, fmt.Errorf("C_Decrypt AES-GCM: %w", err)
	}
	return out, nil
}

// macSelfTest makes a MAC with the SKEY, verifies it, and checks that a
// changed message is refused.
func (m *member) macSelfTest(s pkcs11.SessionHandle, skey keyRef) error {
	msg, err := m.mod.GenerateRandom(s, 32)
	if err != nil {
		return fmt.Errorf("C_GenerateRandom: %w", err)
	}
	mac, err := m.mac(s, skey, msg)
	if err != nil {
		return err
	}
	if err := m.verifyMAC(s, skey, msg, mac); err != nil {
		return fmt.Errorf("a fresh MAC does not verify: %w", err)
	}
	msg[0] ^= 1
	err = m.verifyMAC(s, skey, msg, mac)
	switch {
	case err == nil:
		return errors.New("a MAC verifies over a changed message")
	case !errors.Is(err, backend.ErrIntegrity):
		return err
	}
	return nil
}
