package pkcs11

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// tkekLabel is the label of the i-th TKEK pair (1-based): PREFIX-01.
func tkekLabel(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }

// keyRef is a resolved object of the key set.
type keyRef struct {
	h       pkcs11.ObjectHandle
	macMech uint   // SKEY only: CKM_AES_CMAC or CKM_SHA256_HMAC
	modulus []byte // RSA keys only, to match the halves of a TKEK pair
	desc    string // what was found, for Check
}

// keySpec says how to find and judge one object of the key set.
type keySpec struct {
	name  string // what Check calls it: MKEK, SKEY, IKEY, TKEK-01, ...
	label string
	class uint
	// inspect reads the object's attributes and lists what makes it
	// unusable; err is only for calls that failed.
	inspect func(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (r keyRef, problems []string, err error)
}

func mkekSpec(label string) keySpec {
	return keySpec{name: "MKEK", label: label, class: pkcs11.CKO_SECRET_KEY, inspect: inspectMKEK}
}

func skeySpec(label string) keySpec {
	return keySpec{name: "SKEY", label: label, class: pkcs11.CKO_SECRET_KEY, inspect: inspectSKEY}
}

func ikeySpec(label string) keySpec {
	return keySpec{name: "IKEY", label: label, class: pkcs11.CKO_SECRET_KEY, inspect: inspectIKEY}
}

func tkekPrivateSpec(prefix string, i int) keySpec {
	return keySpec{name: tkekLabel("TKEK", i), label: tkekLabel(prefix, i), class: pkcs11.CKO_PRIVATE_KEY, inspect: inspectTKEKPrivate}
}

func tkekPublicSpec(prefix string, i int) keySpec {
	return keySpec{name: tkekLabel("TKEK", i) + " public", label: tkekLabel(prefix, i), class: pkcs11.CKO_PUBLIC_KEY, inspect: inspectTKEKPublic}
}

// findObjects returns the handles of the token objects with class and
// label (at most a few: more than one is already an error).
func findObjects(p p11, s pkcs11.SessionHandle, class uint, label string) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := p.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	hs, _, err := p.FindObjects(s, 4)
	// C_FindObjectsFinal always, or the session keeps an active search
	// and the next C_FindObjectsInit fails with CKR_OPERATION_ACTIVE.
	if ferr := p.FindObjectsFinal(s); err == nil {
		err = ferr
	}
	return hs, err
}

// resolve finds the one object spec names and inspects it. A missing,
// duplicated or unusable object is ErrKeyMissing; a failed call is
// returned as is (callers classify it).
func resolve(p p11, s pkcs11.SessionHandle, spec keySpec) (keyRef, error) {
	hs, err := findObjects(p, s, spec.class, spec.label)
	if err != nil {
		return keyRef{}, fmt.Errorf("find %s %q: %w", className(spec.class), spec.label, err)
	}
	switch len(hs) {
	case 0:
		return keyRef{}, keyProblem(fmt.Sprintf("no %s labelled %q", className(spec.class), spec.label))
	case 1:
	default:
		return keyRef{}, keyProblem(fmt.Sprintf("%d objects of class %s labelled %q: labels must be unique",
			len(hs), className(spec.class), spec.label))
	}
	r, problems, err := spec.inspect(p, s, hs[0])
	if err != nil {
		return keyRef{}, fmt.Errorf("read attributes of %q: %w", spec.label, err)
	}
	if len(problems) > 0 {
		return keyRef{}, keyProblem(fmt.Sprintf("%s %q is unusable: %s", className(spec.class), spec.label, strings.Join(problems, "; ")))
	}
	r.h = hs[0]
	return r, nil
}

func className(class uint) string {
	switch class {
	case pkcs11.CKO_SECRET_KEY:
		return "secret key"
	case pkcs11.CKO_PRIVATE_KEY:
		return "private key"
	case pkcs11.CKO_PUBLIC_KEY:
		return "public key"
	}
	return fmt.Sprintf("object class 0x%X", class)
}

func keyTypeName(kt uint) string {
	switch kt {
	case pkcs11.CKK_AES:
		return "AES"
	case pkcs11.CKK_GENERIC_SECRET:
		return "generic secret"
	case pkcs11.CKK_DES3:
		return "DES3"
	case pkcs11.CKK_RSA:
		return "RSA"
	case pkcs11.CKK_EC:
		return "EC"
	}
	return fmt.Sprintf("key type 0x%X", kt)
}

// attrs reads attributes that are never sensitive. miekg/pkcs11 fails the
// whole call if one is unreadable, so ask only for what the class has.
func attrs(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := p.GetAttributeValue(s, h, tmpl)
	if err != nil {
		return nil, err
	}
	out := make(map[uint][]byte, len(got))
	for _, a := range got {
		out[a.Type] = a.Value
	}
	return out, nil
}

// ulong decodes a CK_ULONG attribute (native byte order and size).
func ulong(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return 0
}

func boolAttr(b []byte) bool { return len(b) == 1 && b[0] != 0 }

// requireTrue adds a problem for each boolean attribute that is not true.
func requireTrue(a map[uint][]byte, problems []string, names map[uint]string) []string {
	for _, t := range []uint{pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY} {
		if name, ok := names[t]; ok && !boolAttr(a[t]) {
			problems = append(problems, name+" is false (fix: set it to true, or create the key again with it)")
		}
	}
	return problems
}

// protectedAttrs are read for every secret or private key of the set.
var protectedAttrs = []uint{pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE}

// requireProtected adds a problem when the key could leave the HSM: the
// root of trust is only the customer's while its keys stay in the
// partition. Both attributes may be changed in the safe direction only.
func requireProtected(a map[uint][]byte, problems []string) []string {
	if !boolAttr(a[pkcs11.CKA_SENSITIVE]) {
		problems = append(problems, "CKA_SENSITIVE is false: its value can be read out of the HSM "+
			"(fix: set CKA_SENSITIVE to true with C_SetAttributeValue, which cannot be undone, or create the key again)")
	}
	if boolAttr(a[pkcs11.CKA_EXTRACTABLE]) {
		problems = append(problems, "CKA_EXTRACTABLE is true: it can be wrapped out of the HSM "+
			"(fix: set CKA_EXTRACTABLE to false with C_SetAttributeValue, which cannot be undone, or create the key again)")
	}
	return problems
}

func inspectMKEK(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (keyRef, []string, error) {
	a, err := attrs(p, s, h, append([]uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_VALUE_LEN, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP}, protectedAttrs...)...)
	if err != nil {
		return keyRef{}, nil, err
	}
	var problems []string
	kt, n := ulong(a[pkcs11.CKA_KEY_TYPE]), ulong(a[pkcs11.CKA_VALUE_LEN])
	if kt != pkcs11.CKK_AES {
		problems = append(problems, fmt.Sprintf("key type is %s, want AES", keyTypeName(kt)))
	} else if n != 32 {
		problems = append(problems, fmt.Sprintf("key is %d bytes, want 32 (AES-256)", n))
	}
	problems = requireTrue(a, problems, map[uint]string{pkcs11.CKA_WRAP: "CKA_WRAP", pkcs11.CKA_UNWRAP: "CKA_UNWRAP"})
	problems = requireProtected(a, problems)
	return keyRef{desc: "AES-256 with CKA_WRAP and CKA_UNWRAP"}, problems, nil
}

// inspectSKEY decides the MAC mechanism from the key type: an AES key is
// used with CMAC, a generic secret with HMAC-SHA256 (SoftHSM2 accepts
// HMAC-SHA256 only with generic secrets of 32 bytes or more).
func inspectSKEY(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (keyRef, []string, error) {
	a, err := attrs(p, s, h, append([]uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_VALUE_LEN, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY}, protectedAttrs...)...)
	if err != nil {
		return keyRef{}, nil, err
	}
	var (
		problems []string
		r        keyRef
	)
	kt, n := ulong(a[pkcs11.CKA_KEY_TYPE]), ulong(a[pkcs11.CKA_VALUE_LEN])
	switch kt {
	case pkcs11.CKK_AES:
		r.macMech, r.desc = pkcs11.CKM_AES_CMAC, "AES-256 for AES-CMAC"
		if n != 32 {
			problems = append(problems, fmt.Sprintf("AES key is %d bytes, want 32 (AES-256)", n))
		}
	case pkcs11.CKK_GENERIC_SECRET:
		r.macMech, r.desc = pkcs11.CKM_SHA256_HMAC, fmt.Sprintf("generic secret of %d bytes for HMAC-SHA256", n)
		if n < 32 {
			problems = append(problems, fmt.Sprintf("generic secret is %d bytes, want at least 32", n))
		}
	default:
		problems = append(problems, fmt.Sprintf("key type is %s, want AES or generic secret", keyTypeName(kt)))
	}
	problems = requireTrue(a, problems, map[uint]string{pkcs11.CKA_SIGN: "CKA_SIGN", pkcs11.CKA_VERIFY: "CKA_VERIFY"})
	problems = requireProtected(a, problems)
	return r, problems, nil
}

func inspectIKEY(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (keyRef, []string, error) {
	a, err := attrs(p, s, h, append([]uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_DECRYPT}, protectedAttrs...)...)
	if err != nil {
		return keyRef{}, nil, err
	}
	var problems []string
	if kt := ulong(a[pkcs11.CKA_KEY_TYPE]); kt != pkcs11.CKK_DES3 {
		problems = append(problems, fmt.Sprintf("key type is %s, want DES3", keyTypeName(kt)))
	}
	problems = requireTrue(a, problems, map[uint]string{pkcs11.CKA_DECRYPT: "CKA_DECRYPT"})
	problems = requireProtected(a, problems)
	return keyRef{desc: "DES3 with CKA_DECRYPT"}, problems, nil
}

func inspectTKEKPrivate(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (keyRef, []string, error) {
	a, err := attrs(p, s, h, append([]uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_MODULUS, pkcs11.CKA_DECRYPT, pkcs11.CKA_UNWRAP}, protectedAttrs...)...)
	if err != nil {
		return keyRef{}, nil, err
	}
	var problems []string
	if kt := ulong(a[pkcs11.CKA_KEY_TYPE]); kt != pkcs11.CKK_RSA {
		problems = append(problems, fmt.Sprintf("key type is %s, want RSA", keyTypeName(kt)))
	}
	problems = requireTrue(a, problems, map[uint]string{pkcs11.CKA_DECRYPT: "CKA_DECRYPT", pkcs11.CKA_UNWRAP: "CKA_UNWRAP"})
	problems = requireProtected(a, problems)
	mod := a[pkcs11.CKA_MODULUS]
	return keyRef{modulus: mod, desc: fmt.Sprintf("RSA-%d with CKA_DECRYPT and CKA_UNWRAP", modulusBits(mod))}, problems, nil
}

func inspectTKEKPublic(p p11, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (keyRef, []string, error) {
	a, err := attrs(p, s, h, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_MODULUS)
	if err != nil {
		return keyRef{}, nil, err
	}
	var problems []string
	if kt := ulong(a[pkcs11.CKA_KEY_TYPE]); kt != pkcs11.CKK_RSA {
		problems = append(problems, fmt.Sprintf("key type is %s, want RSA", keyTypeName(kt)))
	}
	return keyRef{modulus: a[pkcs11.CKA_MODULUS]}, problems, nil
}

// modulusBits is the bit length of a big-endian modulus.
func modulusBits(m []byte) int {
	m = bytes.TrimLeft(m, "\x00")
	if len(m) == 0 {
		return 0
	}
	bits := len(m) * 8
	for b := m[0]; b&0x80 == 0; b <<= 1 {
		bits--
	}
	return bits
}
