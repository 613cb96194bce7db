package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// ProvisionOptions says which development token Provision sets up.
type ProvisionOptions struct {
	// PKCS11 names the module (and SoftHSM2Conf), the token label, the key
	// labels and the TKEK count, as the backend will use them.
	PKCS11 config.PKCS11
	// SOPIN is the Security Officer PIN, used only to initialize a new
	// token and its user PIN.
	SOPIN string
	// UserPIN is the user (Crypto Officer) PIN. When empty, PKCS11.PIN is
	// read.
	UserPIN string
}

// Provision makes a development token hold the whole BYOHSM key set. It
// uses the token labelled opts.PKCS11.TokenLabel, or initializes the free
// slot's token with that label (C_InitToken with the SO PIN, then
// C_InitPIN with the user PIN). It then creates, each only if missing, the
// MKEK, SKEY, IKEY and TKEK pairs: running it twice creates nothing new.
//
// It is for SoftHSM2 (kmipctl dev init, tests); production partitions are
// set up by the customer with the HSM vendor's tools.
func Provision(ctx context.Context, opts ProvisionOptions) error {
	cfg := opts.PKCS11
	switch {
	case cfg.Module == "":
		return errors.New("pkcs11: provision: module: required")
	case cfg.TokenLabel == "" || len(cfg.TokenLabel) > 32:
		return fmt.Errorf("pkcs11: provision: token label must be 1 to 32 bytes, got %d", len(cfg.TokenLabel))
	case cfg.MKEKLabel == "" || cfg.SKEYLabel == "" || cfg.IKEYLabel == "" || cfg.TKEKPrefix == "":
		return errors.New("pkcs11: provision: mkek_label, skey_label, ikey_label and tkek_prefix are required")
	}
	userPIN := opts.UserPIN
	if userPIN == "" {
		v, err := cfg.PIN.Value()
		if err != nil {
			return fmt.Errorf("pkcs11: provision: pin: %w", err)
		}
		userPIN = v
	}
	mod, err := acquireModule(cfg.Module, moduleEnv{SoftHSM2Conf: cfg.SoftHSM2Conf}, 0)
	if err != nil {
		return fmt.Errorf("pkcs11: provision: %w", err)
	}
	defer mod.release()

	slot, err := provisionToken(mod, cfg.TokenLabel, opts.SOPIN, userPIN)
	if err != nil {
		return fmt.Errorf("pkcs11: provision token %q: %w", cfg.TokenLabel, err)
	}
	s, err := mod.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("pkcs11: provision: C_OpenSession: %w", err)
	}
	defer func() { _ = mod.CloseSession(s) }()
	if err := mod.Login(s, pkcs11.CKU_USER, userPIN); err != nil && !isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return fmt.Errorf("pkcs11: provision: user C_Login to token %q: %w", cfg.TokenLabel, err)
	}

	secrets := []struct {
		label string
		gen   uint
		tmpl  []*pkcs11.Attribute
	}{
		{cfg.MKEKLabel, pkcs11.CKM_AES_KEY_GEN, secretTemplate(cfg.MKEKLabel, pkcs11.CKK_AES, 32,
			pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT)},
		{cfg.SKEYLabel, pkcs11.CKM_AES_KEY_GEN, secretTemplate(cfg.SKEYLabel, pkcs11.CKK_AES, 32,
			pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY)},
		{cfg.IKEYLabel, pkcs11.CKM_DES3_KEY_GEN, secretTemplate(cfg.IKEYLabel, pkcs11.CKK_DES3, 0,
			pkcs11.CKA_DECRYPT, pkcs11.CKA_ENCRYPT, pkcs11.CKA_UNWRAP)},
	}
	for _, k := range secrets {
		if err := ctx.Err(); err != nil {
			return err
		}
		hs, err := findObjects(mod, s, pkcs11.CKO_SECRET_KEY, k.label)
		if err != nil {
			return fmt.Errorf("pkcs11: provision: find %q: %w", k.label, err)
		}
		if len(hs) > 0 {
			continue
		}
		if _, err := mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(k.gen, nil)}, k.tmpl); err != nil {
			return fmt.Errorf("pkcs11: provision: generate %q: %w", k.label, err)
		}
	}
	for i := 1; i <= cfg.TKEKCount; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := provisionTKEK(mod, s, tkekLabel(cfg.TKEKPrefix, i)); err != nil {
			return fmt.Errorf("pkcs11: provision: %w", err)
		}
	}
	return nil
}

// provisionToken returns the slot of the token labelled label,
// initializing the free token (and the user PIN) if there is none yet.
func provisionToken(p p11, label, soPIN, userPIN string) (uint, error) {
	slots, err := slotsWithLabel(p, label)
	if err != nil {
		return 0, err
	}
	if len(slots) > 1 {
		return 0, fmt.Errorf("%d tokens have this label", len(slots))
	}
	if len(slots) == 0 {
		if soPIN == "" {
			return 0, errors.New("no such token, and no SO PIN to initialize one")
		}
		free, err := freeSlot(p)
		if err != nil {
			return 0, err
		}
		if err := p.InitToken(free, soPIN, label); err != nil {
			return 0, fmt.Errorf("C_InitToken: %w", err)
		}
		// Look the token up again: SoftHSM2 may show it in another slot.
		if slots, err = slotsWithLabel(p, label); err != nil {
			return 0, err
		}
		if len(slots) != 1 {
			return 0, fmt.Errorf("after C_InitToken, %d tokens have this label", len(slots))
		}
	}
	slot := slots[0]
	ti, err := p.GetTokenInfo(slot)
	if err != nil {
		return 0, fmt.Errorf("C_GetTokenInfo: %w", err)
	}
	if ti.Flags&pkcs11.CKF_USER_PIN_INITIALIZED == 0 {
		if err := initUserPIN(p, slot, soPIN, userPIN); err != nil {
			return 0, err
		}
	}
	return slot, nil
}

func initUserPIN(p p11, slot uint, soPIN, userPIN string) error {
	s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer func() { _ = p.CloseSession(s) }()
	if err := p.Login(s, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("SO C_Login: %w", err)
	}
	defer func() { _ = p.Logout(s) }()
	if err := p.InitPIN(s, userPIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	return nil
}

// slotsWithLabel lists the slots whose initialized token has the label.
func slotsWithLabel(p p11, label string) ([]uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("%w: pkcs11: C_GetSlotList: %w", backend.ErrUnavailable, err)
	}
	var found []uint
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue // a slot that cannot describe its token is not ours
		}
		if ti.Label == label && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			found = append(found, s)
		}
	}
	return found, nil
}

// freeSlot returns a slot whose token is not initialized (SoftHSM2 always
// offers one).
func freeSlot(p p11) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			return s, nil
		}
	}
	return 0, errors.New("no slot with an uninitialized token")
}

// secretTemplate is a token secret key that never leaves the HSM in the
// clear: private, sensitive, not extractable, with the usages given.
func secretTemplate(label string, keyType uint, size int, usages ...uint) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}
	if size > 0 {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, size))
	}
	for _, u := range usages {
		t = append(t, pkcs11.NewAttribute(u, true))
	}
	return t
}

// provisionTKEK creates the RSA-2048 pair labelled label unless it exists.
// Half a pair is an error: a new pair cannot complete it.
func provisionTKEK(p p11, s pkcs11.SessionHandle, label string) error {
	priv, err := findObjects(p, s, pkcs11.CKO_PRIVATE_KEY, label)
	if err != nil {
		return fmt.Errorf("find %q: %w", label, err)
	}
	pub, err := findObjects(p, s, pkcs11.CKO_PUBLIC_KEY, label)
	if err != nil {
		return fmt.Errorf("find %q: %w", label, err)
	}
	switch {
	case len(priv) > 0 && len(pub) > 0:
		return nil
	case len(priv) > 0 || len(pub) > 0:
		return fmt.Errorf("TKEK %q is half a pair (%d private, %d public keys): delete it to have it made again", label, len(priv), len(pub))
	}
	public := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{0x01, 0x00, 0x01}),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
	}
	private := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
	}
	if _, _, err := p.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}, public, private); err != nil {
		return fmt.Errorf("generate TKEK %q: %w", label, err)
	}
	return nil
}

// WriteSoftHSM2Conf creates dir/tokens and dir/softhsm2.conf, a SoftHSM2
// configuration keeping its tokens there, and returns the configuration's
// path. Export it as SOFTHSM2_CONF (or set backend.pkcs11.softhsm2_conf)
// before the module is initialized: SoftHSM2 reads it once per process.
func WriteSoftHSM2Conf(dir string) (confPath string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pkcs11: softhsm2 conf: %w", err)
	}
	tokens := filepath.Join(abs, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", fmt.Errorf("pkcs11: softhsm2 conf: %w", err)
	}
	conf := "directories.tokendir = " + tokens + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n"
	confPath = filepath.Join(abs, "softhsm2.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return "", fmt.Errorf("pkcs11: softhsm2 conf: %w", err)
	}
	return confPath, nil
}
