package pkcs11

import (
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Partition policies (`kmipctl hsm check`, and the server's start-up
// check): what the partition must allow for the adapter to work and its
// keys to stay in it, each finding with the fix for the HSM the
// configuration names (mechanisms.profile: luna or softhsm2). PKCS#11
// shows a Luna partition's policies only through their effects, so they
// are read as such:
//
//   - the token's flags (C_GetTokenInfo): initialized, login required,
//     a random number generator, the Crypto Officer's PIN not locked
//     (nor about to be);
//   - each configured mechanism's flags (C_GetMechanismInfo): key wrap
//     wraps and unwraps, AES-GCM and RSA-OAEP encrypt and decrypt (OAEP
//     unwraps too, for imports kept in the HSM), the MAC signs and
//     verifies, key generation generates;
//   - each key object's attributes: the usages the adapter calls, and
//     CKA_PRIVATE, CKA_SENSITIVE and not CKA_EXTRACTABLE for the secret
//     and private keys (the key set stays in the partition);
//   - a probe of private key wrapping (a session EC key wrapped and
//     unwrapped under a session AES key), which keys kept in the HSM need
//     and Luna's "Allow private key wrapping/unwrapping" policies govern.
//
// A failing finding fails the check (the server does not start); one
// that only warns (the PIN's retry count low, a write-protected token)
// passes with "warning:" in its detail.

// fix is one finding's remedy, per HSM family.
type fix struct{ luna, softhsm2 string }

// profile is the HSM family of the member's configuration.
func (m *member) profile() string {
	if m.cfg.Mechanisms.Profile == "luna" {
		return "luna"
	}
	return "softhsm2"
}

// say renders a finding with the fix for this member's HSM family.
func (m *member) say(finding string, f fix) string {
	if m.profile() == "luna" {
		return finding + " (fix on Luna: " + f.luna + ")"
	}
	return finding + " (fix on SoftHSM2: " + f.softhsm2 + ")"
}

// lunaPolicy is the fix of a Luna partition policy that must be on.
func lunaPolicy(name string) string {
	return fmt.Sprintf(`turn on the partition policy "%s" as the Partition SO: lunacm partition showpolicies gives its code, then partition changepolicy -policy <code> -value 1`, name)
}

// checkPolicies adds the policy findings; macMech is the SKEY's MAC
// mechanism (0 when the SKEY is unusable).
func (m *member) checkPolicies(s pkcs11.SessionHandle, macMech uint) []backend.CheckResult {
	out := []backend.CheckResult{m.checkToken()}
	out = append(out, m.checkMechanisms(macMech)...)
	out = append(out, m.checkKeyPolicies(s)...)
	return append(out, m.checkPrivateKeyWrap(s))
}

// checkToken judges the token's flags.
func (m *member) checkToken() backend.CheckResult {
	res := backend.CheckResult{Name: "token", Label: m.spec.TokenLabel}
	ti, err := m.mod.GetTokenInfo(m.slot)
	if err != nil {
		res.Detail = "C_GetTokenInfo: " + err.Error()
		return res
	}
	var problems, warnings []string
	need := func(flag uint, finding string, f fix) {
		if ti.Flags&flag == 0 {
			problems = append(problems, m.say(finding, f))
		}
	}
	need(pkcs11.CKF_TOKEN_INITIALIZED, "the token is not initialized",
		fix{"initialize the partition (lunacm partition init) and the Crypto Officer role", "kmipctl dev init, or softhsm2-util --init-token"})
	need(pkcs11.CKF_LOGIN_REQUIRED, "the token does not require a login: its keys are usable by anyone who reaches it",
		fix{"use a partition with a Crypto Officer role (partitions require login unless activated for all: check partition showinfo)", "initialize the token with a user PIN (softhsm2-util --init-token --pin)"})
	need(pkcs11.CKF_RNG, "the token has no random number generator (the adapter draws key material from C_GenerateRandom)",
		fix{"use a Luna partition (every Luna HSM has a DRBG): the module is not the Luna client", "use SoftHSM2 2.6 or later"})
	if ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		problems = append(problems, m.say("the Crypto Officer's PIN is locked",
			fix{"the Partition SO resets it: lunacm role resetpw -name co", "set a new user PIN with the SO PIN: softhsm2-util --init-pin (or pkcs11-tool --init-pin --login --login-type so)"}))
	}
	if ti.Flags&pkcs11.CKF_USER_PIN_TO_BE_CHANGED != 0 {
		problems = append(problems, m.say("the Crypto Officer's PIN must be changed before use",
			fix{"log in as the Crypto Officer and change it: lunacm role changepw -name co; then update the PIN file", "change it with pkcs11-tool --change-pin; then update the PIN file"}))
	}
	if ti.Flags&(pkcs11.CKF_USER_PIN_FINAL_TRY|pkcs11.CKF_USER_PIN_COUNT_LOW) != 0 {
		warnings = append(warnings, "the Crypto Officer's PIN was given wrong recently: one more wrong PIN may lock it (check backend.pkcs11.pin on every node)")
	}
	if ti.Flags&pkcs11.CKF_WRITE_PROTECTED != 0 {
		warnings = append(warnings, "the token is write-protected: serving works, provisioning and root rotation (a new MKEK) need writes")
	}
	desc := fmt.Sprintf("%s %s, firmware %d.%d", strings.TrimSpace(ti.ManufacturerID), strings.TrimSpace(ti.Model), ti.FirmwareVersion.Major, ti.FirmwareVersion.Minor)
	if len(problems) > 0 {
		res.Detail = desc + ": " + strings.Join(append(problems, warnings...), "; ")
		return res
	}
	res.OK = true
	res.Detail = desc + ": initialized, login required, RNG"
	if len(warnings) > 0 {
		res.Detail += "; warning: " + strings.Join(warnings, "; warning: ")
	}
	return res
}

// mechanismNeed is one mechanism the adapter calls and the flags it needs.
type mechanismNeed struct {
	name  string
	mech  uint
	flags uint
	why   string
	fix   fix
}

var flagNames = []struct {
	flag uint
	name string
}{
	{pkcs11.CKF_ENCRYPT, "encrypt"}, {pkcs11.CKF_DECRYPT, "decrypt"}, {pkcs11.CKF_SIGN, "sign"}, {pkcs11.CKF_VERIFY, "verify"},
	{pkcs11.CKF_WRAP, "wrap"}, {pkcs11.CKF_UNWRAP, "unwrap"}, {pkcs11.CKF_GENERATE, "generate"}, {pkcs11.CKF_GENERATE_KEY_PAIR, "generate key pair"},
}

func flagList(flags uint) string {
	var out []string
	for _, f := range flagNames {
		if flags&f.flag != 0 {
			out = append(out, f.name)
		}
	}
	return strings.Join(out, ", ")
}

// checkMechanisms asks C_GetMechanismInfo for each mechanism the
// configuration uses.
func (m *member) checkMechanisms(macMech uint) []backend.CheckResult {
	profileIDs := fix{"check backend.pkcs11.mechanisms (the luna profile uses the vendor key wrap ids 0x80000170/0x80000171) and the HSM policy \"Allow non-FIPS algorithms\" for what FIPS mode refuses",
		"check backend.pkcs11.mechanisms (the softhsm2 profile: KW 0x2109, KWP 0x210A); SoftHSM2 2.6 built with OpenSSL has them all"}
	needs := []mechanismNeed{
		{"KWP", m.mech.kwp, pkcs11.CKF_WRAP | pkcs11.CKF_UNWRAP, "tenant KEKs under the MKEK, kept keys under the tenant KEK", profileIDs},
		{"KW", m.mech.kw, pkcs11.CKF_WRAP | pkcs11.CKF_UNWRAP, "key import", profileIDs},
		{"GCM", m.mech.gcm, pkcs11.CKF_ENCRYPT | pkcs11.CKF_DECRYPT, "object key material under the tenant KEK", profileIDs},
		{"RSA-OAEP", m.mech.oaep, pkcs11.CKF_ENCRYPT | pkcs11.CKF_DECRYPT | pkcs11.CKF_UNWRAP, "imports through a TKEK", profileIDs},
		{"AES keygen", pkcs11.CKM_AES_KEY_GEN, pkcs11.CKF_GENERATE, "tenant KEKs and kept keys", profileIDs},
		{"RSA keygen", pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKF_GENERATE_KEY_PAIR, "key pairs of Create Key Pair", profileIDs},
		{"EC keygen", pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKF_GENERATE_KEY_PAIR, "key pairs of Create Key Pair", profileIDs},
	}
	if macMech != 0 {
		needs = append(needs, mechanismNeed{"MAC", m.mech.macFor(macMech), pkcs11.CKF_SIGN | pkcs11.CKF_VERIFY, "record and tenant key MACs with the SKEY", profileIDs})
	}
	if m.cfg.IKEYLabel != "" {
		needs = append(needs, mechanismNeed{"DES3-CBC-PAD", pkcs11.CKM_DES3_CBC_PAD, pkcs11.CKF_DECRYPT, "imports through the IKEY",
			fix{lunaPolicy("Allow non-FIPS algorithms") + " (an HSM policy: hsm changepolicy; DES3 is refused in FIPS mode)", "SoftHSM2 decrypts DES3-CBC-PAD; check that the module is SoftHSM2"}})
	}
	var out []backend.CheckResult
	for _, n := range needs {
		res := backend.CheckResult{Name: "mechanism " + n.name}
		info, err := m.mod.GetMechanismInfo(m.slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(n.mech, nil)})
		switch {
		case err != nil:
			res.Detail = m.say(fmt.Sprintf("0x%X is not offered (%v), and %s need it", n.mech, err, n.why), n.fix)
		case info.Flags&n.flags != n.flags:
			res.Detail = m.say(fmt.Sprintf("0x%X can %s, and %s need %s", n.mech, flagList(info.Flags), n.why, flagList(n.flags&^info.Flags)), n.fix)
		default:
			res.OK, res.Detail = true, fmt.Sprintf("0x%X: %s", n.mech, flagList(info.Flags&n.flags))
		}
		out = append(out, res)
	}
	return out
}

// keyPolicy is what one key object of the set must have.
type keyPolicy struct {
	name, label string
	class       uint
	usages      map[uint]string // attribute -> why it is needed
	secret      bool            // a secret or private key: private, sensitive, not extractable
}

// checkKeyPolicies judges the key objects' attributes, one line per key
// (the TKEK pairs together).
func (m *member) checkKeyPolicies(s pkcs11.SessionHandle) []backend.CheckResult {
	keys := []keyPolicy{
		{"MKEK", m.cfg.MKEKLabel, pkcs11.CKO_SECRET_KEY, map[uint]string{pkcs11.CKA_WRAP: "wraps tenant KEKs", pkcs11.CKA_UNWRAP: "unwraps tenant KEKs"}, true},
		{"SKEY", m.cfg.SKEYLabel, pkcs11.CKO_SECRET_KEY, map[uint]string{pkcs11.CKA_SIGN: "makes MACs", pkcs11.CKA_VERIFY: "verifies MACs"}, true},
	}
	if m.cfg.IKEYLabel != "" {
		keys = append(keys, keyPolicy{"IKEY", m.cfg.IKEYLabel, pkcs11.CKO_SECRET_KEY, map[uint]string{pkcs11.CKA_DECRYPT: "decrypts imported material"}, true})
	}
	var out []backend.CheckResult
	for _, k := range keys {
		res := backend.CheckResult{Name: "policy " + k.name, Label: k.label}
		problems, err := m.keyProblems(s, k)
		switch {
		case err != nil:
			res.Detail = err.Error()
		case len(problems) > 0:
			res.Detail = strings.Join(problems, "; ")
		default:
			res.OK, res.Detail = true, "usages, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE"
		}
		out = append(out, res)
	}
	if m.cfg.TKEKCount > 0 {
		res := backend.CheckResult{Name: "policy TKEKs", Label: m.cfg.TKEKPrefix + "-*"}
		var problems []string
		for i := 1; i <= m.cfg.TKEKCount; i++ {
			k := keyPolicy{tkekLabel("TKEK", i), tkekLabel(m.cfg.TKEKPrefix, i), pkcs11.CKO_PRIVATE_KEY,
				map[uint]string{pkcs11.CKA_DECRYPT: "decrypts imports that are sealed", pkcs11.CKA_UNWRAP: "unwraps imports kept in the HSM"}, true}
			p, err := m.keyProblems(s, k)
			if err != nil {
				p = []string{err.Error()}
			}
			for _, x := range p {
				problems = append(problems, k.label+": "+x)
			}
		}
		if len(problems) > 0 {
			res.Detail = strings.Join(problems, "; ")
		} else {
			res.OK, res.Detail = true, fmt.Sprintf("%d private keys: CKA_DECRYPT, CKA_UNWRAP, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE", m.cfg.TKEKCount)
		}
		out = append(out, res)
	}
	return out
}

var attrNames = map[uint]string{
	pkcs11.CKA_WRAP: "CKA_WRAP", pkcs11.CKA_UNWRAP: "CKA_UNWRAP", pkcs11.CKA_ENCRYPT: "CKA_ENCRYPT", pkcs11.CKA_DECRYPT: "CKA_DECRYPT",
	pkcs11.CKA_SIGN: "CKA_SIGN", pkcs11.CKA_VERIFY: "CKA_VERIFY",
}

// keyProblems lists what is wrong with one key object, each with its
// fix; a missing key is left to the key line above (it says so).
func (m *member) keyProblems(s pkcs11.SessionHandle, k keyPolicy) ([]string, error) {
	hs, err := findObjects(m.mod, s, k.class, k.label)
	if err != nil {
		return nil, fmt.Errorf("find %q: %w", k.label, err)
	}
	if len(hs) != 1 {
		return []string{fmt.Sprintf("%d objects labelled %q (see the %s line)", len(hs), k.label, k.name)}, nil
	}
	types := []uint{pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE}
	for t := range k.usages {
		types = append(types, t)
	}
	a, err := attrs(m.mod, s, hs[0], types...)
	if err != nil {
		return nil, fmt.Errorf("read attributes of %q: %w", k.label, err)
	}
	root := k.name == "MKEK" || k.name == "SKEY"
	again := fix{
		luna:     "create the key again with it (the partition policy \"Allow changing key attributes\" lets the Crypto Officer change usages with C_SetAttributeValue)",
		softhsm2: "create the key again with it (kmipctl dev init makes the key set with the right attributes)",
	}
	if root {
		again.luna += "; for the MKEK, create a new one under a new label and run kmipctl hsm rotate: a new key with the old label loses every tenant key"
		again.softhsm2 += "; for the MKEK, create a new one under a new label and run kmipctl hsm rotate"
	}
	var problems []string
	for _, t := range []uint{pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY} {
		if why, ok := k.usages[t]; ok && !boolAttr(a[t]) {
			problems = append(problems, m.say(fmt.Sprintf("%s is false, and the %s %s", attrNames[t], k.name, why), again))
		}
	}
	if !k.secret {
		return problems, nil
	}
	if !boolAttr(a[pkcs11.CKA_PRIVATE]) {
		problems = append(problems, m.say("CKA_PRIVATE is false: the key is usable without the Crypto Officer's login", again))
	}
	if !boolAttr(a[pkcs11.CKA_SENSITIVE]) {
		problems = append(problems, m.say("CKA_SENSITIVE is false: its value can be read out", fix{
			luna:     "set CKA_SENSITIVE to true (C_SetAttributeValue; it cannot be undone), or " + again.luna,
			softhsm2: "set CKA_SENSITIVE to true (C_SetAttributeValue; it cannot be undone), or " + again.softhsm2,
		}))
	}
	if boolAttr(a[pkcs11.CKA_EXTRACTABLE]) {
		problems = append(problems, m.say("CKA_EXTRACTABLE is true: it can be wrapped out of the partition", fix{
			luna:     "set CKA_EXTRACTABLE to false (C_SetAttributeValue; it cannot be undone), or " + again.luna + `; HA sets replicate keys by cloning ("Allow secret key cloning"), not by wrapping`,
			softhsm2: "set CKA_EXTRACTABLE to false (C_SetAttributeValue; it cannot be undone), or " + again.softhsm2,
		}))
	}
	return problems, nil
}

// checkPrivateKeyWrap wraps a session EC private key under a session AES
// key with the configured key wrap with padding and unwraps it again, as
// keeping a key pair in the HSM does; every object is destroyed.
func (m *member) checkPrivateKeyWrap(s pkcs11.SessionHandle) backend.CheckResult {
	res := backend.CheckResult{Name: "private key wrapping"}
	err := func() error {
		params, err := asn1.Marshal(curveOIDs[elliptic.P256()])
		if err != nil {
			return err
		}
		kek, err := m.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, append(kekTemplate(),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32), pkcs11.NewAttribute(pkcs11.CKA_WRAP, true), pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true)))
		if err != nil {
			return fmt.Errorf("C_GenerateKey: %w", err)
		}
		defer func() { _ = m.mod.DestroyObject(s, kek) }()
		pub, priv, err := m.mod.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			}, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			})
		if err != nil {
			return fmt.Errorf("C_GenerateKeyPair EC P-256: %w", err)
		}
		defer func() {
			_ = m.mod.DestroyObject(s, priv)
			_ = m.mod.DestroyObject(s, pub)
		}()
		kwp := []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}
		wrapped, err := m.mod.WrapKey(s, kwp, kek, priv)
		if err != nil {
			return fmt.Errorf(`C_WrapKey of a private key: %w (Luna: "Allow private key wrapping")`, err)
		}
		back, err := m.mod.UnwrapKey(s, kwp, kek, wrapped, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		})
		if err != nil {
			return fmt.Errorf(`C_UnwrapKey of a private key: %w (Luna: "Allow private key unwrapping")`, err)
		}
		_ = m.mod.DestroyObject(s, back)
		return nil
	}()
	if err != nil {
		res.Detail = m.say(err.Error()+"; key pairs kept in the HSM (non-Extractable) need it", fix{
			luna:     lunaPolicy("Allow private key wrapping") + `, and "Allow private key unwrapping"`,
			softhsm2: fmt.Sprintf("SoftHSM2 wraps private keys with AES key wrap with padding: check backend.pkcs11.mechanisms.key_wrap_pad (0x%X now)", m.mech.kwp),
		})
		return res
	}
	res.OK, res.Detail = true, fmt.Sprintf("a session EC private key wrapped and unwrapped with 0x%X under a session AES key", m.mech.kwp)
	return res
}
