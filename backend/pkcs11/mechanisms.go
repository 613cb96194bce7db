package pkcs11

import (
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// Vendor mechanism ids of Thales Luna: it implemented AES key wrap before
// PKCS#11 2.40 gave it standard ids, and keeps its own (DESIGN.md
// section 4).
const (
	ckmLunaAESKW  = 0x80000170
	ckmLunaAESKWP = 0x80000171
)

// mechanisms are the mechanism ids in use on the partition.
type mechanisms struct {
	kw   uint // AES key wrap, RFC 3394 (self-tested; key import uses it)
	kwp  uint // AES key wrap with padding, RFC 5649: tenant KEKs under the MKEK
	gcm  uint // AES-GCM: object key material under a tenant KEK
	cmac uint // AES-CMAC: the SKEY's MAC when it is an AES key
	hmac uint // HMAC-SHA256: the SKEY's MAC when it is a generic secret
	oaep uint // RSA-OAEP: the TKEKs (key import)
	// oaepHash and oaepMGF are the OAEP parameters (hash and MGF1 hash).
	oaepHash, oaepMGF uint
	oaepHashName      string
}

// profiles are the built-in defaults per module family. SoftHSM2 2.6
// supports OAEP with SHA-1 only; Luna supports SHA-256 and is FIPS-minded.
var profiles = map[string]mechanisms{
	"softhsm2": {
		kw: pkcs11.CKM_AES_KEY_WRAP, kwp: pkcs11.CKM_AES_KEY_WRAP_PAD,
		gcm: pkcs11.CKM_AES_GCM, cmac: pkcs11.CKM_AES_CMAC, hmac: pkcs11.CKM_SHA256_HMAC,
		oaep: pkcs11.CKM_RSA_PKCS_OAEP, oaepHashName: "sha1",
	},
	"luna": {
		kw: ckmLunaAESKW, kwp: ckmLunaAESKWP,
		gcm: pkcs11.CKM_AES_GCM, cmac: pkcs11.CKM_AES_CMAC, hmac: pkcs11.CKM_SHA256_HMAC,
		oaep: pkcs11.CKM_RSA_PKCS_OAEP, oaepHashName: "sha256",
	},
}

// oaepHashes maps rsa_oaep_hash to the hash mechanism and MGF1 ids.
var oaepHashes = map[string][2]uint{
	"sha1":   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	"sha256": {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	"sha384": {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	"sha512": {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// mechanismsFor applies the profile's defaults to the configured ids: a
// zero id takes the profile's.
func mechanismsFor(c config.Mechanisms) (mechanisms, error) {
	name := c.Profile
	if name == "" {
		name = "softhsm2"
	}
	m, ok := profiles[name]
	if !ok {
		return m, fmt.Errorf("pkcs11: mechanisms.profile %q is not softhsm2 or luna", c.Profile)
	}
	for _, o := range []struct {
		to   *uint
		from uint
	}{{&m.kw, c.KeyWrap}, {&m.kwp, c.KeyWrapPad}, {&m.gcm, c.GCM}, {&m.cmac, c.CMAC}, {&m.hmac, c.HMAC}, {&m.oaep, c.RSAOAEP}} {
		if o.from != 0 {
			*o.to = o.from
		}
	}
	if c.RSAOAEPHash != "" {
		m.oaepHashName = c.RSAOAEPHash
	}
	h, ok := oaepHashes[m.oaepHashName]
	if !ok {
		return m, fmt.Errorf("pkcs11: mechanisms.rsa_oaep_hash %q is not sha1, sha256, sha384 or sha512", m.oaepHashName)
	}
	m.oaepHash, m.oaepMGF = h[0], h[1]
	return m, nil
}

// macFor maps the kind of MAC an SKEY supports (the standard id that
// inspectSKEY chose from its key type) to the configured mechanism id.
func (m mechanisms) macFor(kind uint) uint {
	switch kind {
	case pkcs11.CKM_AES_CMAC:
		return m.cmac
	case pkcs11.CKM_SHA256_HMAC:
		return m.hmac
	}
	return kind
}

// oaepParams are the OAEP parameters for the configured hash, no label.
func (m mechanisms) oaepMechanism() *pkcs11.Mechanism {
	return pkcs11.NewMechanism(m.oaep, pkcs11.NewOAEPParams(m.oaepHash, m.oaepMGF, pkcs11.CKZ_DATA_SPECIFIED, nil))
}
