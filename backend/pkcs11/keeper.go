package pkcs11

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Kept keys (backend.KeyKeeper): object keys that are made inside the HSM
// and never leave it in plaintext.
//
// A kept key is generated as a session object that is sensitive (C_Get-
// AttributeValue never reveals its value) and extractable only so that it
// can be wrapped, with AES key wrap with padding, under the tenant KEK;
// then destroyed. Its wrapped form, prefixed with one byte that says what
// it is, is what the adapter stores. To use it, the anchor session
// unwraps the tenant KEK (after checking its blob's MAC with SKEY) as a
// session object that may wrap and unwrap, unwraps the kept key with it as
// a session object that is sensitive and not extractable, and destroys the
// KEK; the kept key's handle is cached for later uses for a bounded time
// (keptcache.go), then destroyed.

// Kinds of kept keys: the first byte of a kept blob.
const (
	keptAES byte = 1
	keptRSA byte = 2
	keptEC  byte = 3
	// keptHMAC is a generic secret that only signs (HMAC).
	keptHMAC byte = 4
)

// hmacMechanisms are the PKCS#11 HMAC mechanisms per hash.
var hmacMechanisms = map[crypto.Hash]uint{
	crypto.SHA1:   pkcs11.CKM_SHA_1_HMAC,
	crypto.SHA224: pkcs11.CKM_SHA224_HMAC,
	crypto.SHA256: pkcs11.CKM_SHA256_HMAC,
	crypto.SHA384: pkcs11.CKM_SHA384_HMAC,
	crypto.SHA512: pkcs11.CKM_SHA512_HMAC,
}

// maxKeptBlocks bounds the block operations of one WithKeptBlock, each a
// round trip to the HSM.
const maxKeptBlocks = 1 << 16

var _ backend.KeyKeeper = (*Backend)(nil)

// KeepSecretKey implements backend.KeyKeeper.
func (b *Backend) KeepSecretKey(ctx context.Context, req backend.KeepSecretKeyRequest) ([]byte, error) {
	if req.HMAC != 0 {
		return b.keepHMACKey(ctx, req)
	}
	if req.Bits != 128 && req.Bits != 192 && req.Bits != 256 {
		return nil, fmt.Errorf("pkcs11: keep AES key: %d bits is not 128, 192 or 256", req.Bits)
	}
	if req.Material != nil && len(req.Material) != req.Bits/8 {
		return nil, fmt.Errorf("pkcs11: keep AES key: %d bytes of material for a %d-bit key", len(req.Material), req.Bits)
	}
	return b.keepSecret(ctx, req, "keep AES key", keptAES, pkcs11.CKK_AES, pkcs11.CKM_AES_KEY_GEN, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT)
}

// keepHMACKey makes (or takes) a kept HMAC key: a generic secret that
// signs and verifies only.
func (b *Backend) keepHMACKey(ctx context.Context, req backend.KeepSecretKeyRequest) ([]byte, error) {
	if _, ok := hmacMechanisms[req.HMAC]; !ok {
		return nil, fmt.Errorf("pkcs11: keep HMAC key: HMAC with %s is not supported", req.HMAC)
	}
	if req.Bits < 8 || req.Bits%8 != 0 || req.Bits > 8*1024 {
		return nil, fmt.Errorf("pkcs11: keep HMAC key: %d bits is not a whole number of bytes up to 1024", req.Bits)
	}
	if req.Material != nil && len(req.Material) != req.Bits/8 {
		return nil, fmt.Errorf("pkcs11: keep HMAC key: %d bytes of material for a %d-bit key", len(req.Material), req.Bits)
	}
	return b.keepSecret(ctx, req, "keep HMAC key", keptHMAC, pkcs11.CKK_GENERIC_SECRET, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY)
}

// keepSecret makes (or takes req.Material as) a secret key of keyType
// that can do what use says, wraps it under the tenant KEK and destroys
// it.
func (b *Backend) keepSecret(ctx context.Context, req backend.KeepSecretKeyRequest, describe string, kind byte, keyType, genMech uint, use ...uint) ([]byte, error) {
	return onMember(b, ctx, describe, func(m *member) ([]byte, error) {
		var out []byte
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			kek, err := m.wrappingKEK(s, req.Key)
			if err != nil {
				return err
			}
			defer func() { _ = m.mod.DestroyObject(s, kek) }()
			tmpl := []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), // to be wrapped, once
			}
			for _, u := range use {
				tmpl = append(tmpl, pkcs11.NewAttribute(u, true))
			}
			var h pkcs11.ObjectHandle
			if req.Material != nil {
				h, err = m.mod.CreateObject(s, append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE, req.Material)))
				if err != nil {
					return unavailable("C_CreateObject", err)
				}
			} else {
				h, err = m.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(genMech, nil)}, append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, req.Bits/8)))
				if err != nil {
					return unavailable("C_GenerateKey", err)
				}
			}
			defer func() { _ = m.mod.DestroyObject(s, h) }()
			wrapped, err := m.mod.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, kek, h)
			if err != nil {
				return unavailable("C_WrapKey", err)
			}
			out = append([]byte{kind}, wrapped...)
			return nil
		})
		return out, err
	})
}

// KeepKeyPair implements backend.KeyKeeper.
func (b *Backend) KeepKeyPair(ctx context.Context, req backend.KeepKeyPairRequest) (crypto.PublicKey, []byte, error) {
	type pair struct {
		pub     crypto.PublicKey
		wrapped []byte
	}
	var (
		mech         uint
		kind         byte
		public, priv []*pkcs11.Attribute
		keyType      uint
		ecParams     []byte
		describe     string
		err          error
	)
	switch {
	case req.RSABits != 0:
		if req.RSABits < 2048 || req.RSABits > 4096 {
			return nil, nil, fmt.Errorf("pkcs11: keep RSA key pair: %d bits is outside 2048..4096", req.RSABits)
		}
		mech, kind, keyType, describe = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, keptRSA, pkcs11.CKK_RSA, fmt.Sprintf("keep RSA-%d key pair", req.RSABits)
		public = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, req.RSABits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{0x01, 0x00, 0x01}),
		}
	default:
		oid, ok := curveOIDs[req.Curve]
		if !ok {
			return nil, nil, fmt.Errorf("pkcs11: keep EC key pair: the curve is not P-256, P-384 or P-521")
		}
		if ecParams, err = asn1.Marshal(oid); err != nil {
			return nil, nil, err
		}
		mech, kind, keyType, describe = pkcs11.CKM_EC_KEY_PAIR_GEN, keptEC, pkcs11.CKK_EC, "keep EC key pair on "+req.Curve.Params().Name
		public = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, ecParams)}
	}
	public = append(public,
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
	)
	priv = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), // to be wrapped, once
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
	}
	p, err := onMember(b, ctx, describe, func(m *member) (pair, error) {
		var out pair
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			kek, err := m.wrappingKEK(s, req.Key)
			if err != nil {
				return err
			}
			defer func() { _ = m.mod.DestroyObject(s, kek) }()
			pubH, privH, err := m.mod.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, public, priv)
			if err != nil {
				return unavailable("C_GenerateKeyPair", err)
			}
			defer func() {
				_ = m.mod.DestroyObject(s, privH)
				_ = m.mod.DestroyObject(s, pubH)
			}()
			if out.pub, err = m.publicKey(s, pubH, kind, req.Curve); err != nil {
				return err
			}
			wrapped, err := m.mod.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, kek, privH)
			if err != nil {
				return unavailable("C_WrapKey", err)
			}
			out.wrapped = append([]byte{kind}, wrapped...)
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, nil, err
	}
	return p.pub, p.wrapped, nil
}

// publicKey reads the public half of a generated pair (public values
// only: the modulus and exponent, or the EC point).
func (m *member) publicKey(s pkcs11.SessionHandle, h pkcs11.ObjectHandle, kind byte, curve elliptic.Curve) (crypto.PublicKey, error) {
	if kind == keptRSA {
		a, err := attrs(m.mod, s, h, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return nil, unavailable("C_GetAttributeValue", err)
		}
		e := new(big.Int).SetBytes(a[pkcs11.CKA_PUBLIC_EXPONENT])
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, errors.New("the HSM returned an unusable public exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(a[pkcs11.CKA_MODULUS]), E: int(e.Int64())}, nil
	}
	a, err := attrs(m.mod, s, h, pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, unavailable("C_GetAttributeValue", err)
	}
	// CKA_EC_POINT is the DER OCTET STRING of the uncompressed point.
	var point []byte
	if rest, err := asn1.Unmarshal(a[pkcs11.CKA_EC_POINT], &point); err != nil || len(rest) != 0 {
		point = a[pkcs11.CKA_EC_POINT]
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("the HSM's EC point is unusable: %w", err)
	}
	return pub, nil
}

// wrappingKEK unwraps a tenant KEK on session s as a session object that
// wraps and unwraps kept keys (the cached KEK of Seal and Open only
// encrypts and decrypts). The caller destroys it.
func (m *member) wrappingKEK(s pkcs11.SessionHandle, tk backend.TenantKey) (pkcs11.ObjectHandle, error) {
	blob, err := parseTenantKey(tk.Blob)
	if err != nil {
		return 0, err
	}
	skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
	if err != nil {
		return 0, unavailable("SKEY", err)
	}
	if err := m.verifyMAC(s, skey, macInput(blob.version, tk.TenantID, blob.signed), blob.mac); err != nil {
		return 0, fmt.Errorf("tenant key blob: %w", err)
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
	}
	return m.unwrapTenantKey(s, blob, tmpl)
}

// unwrapKept unwraps a kept key on s as a sensitive, non-extractable
// session object that can do what use says. The caller destroys it.
func (m *member) unwrapKept(s pkcs11.SessionHandle, req backend.KeptKeyRequest, want byte, use ...uint) (pkcs11.ObjectHandle, error) {
	if len(req.Wrapped) < 2 || req.Wrapped[0] != want {
		return 0, fmt.Errorf("%w: not a kept key of the expected kind", backend.ErrIntegrity)
	}
	kek, err := m.wrappingKEK(s, req.Key)
	if err != nil {
		return 0, err
	}
	defer func() { _ = m.mod.DestroyObject(s, kek) }()
	class, keyType := uint(pkcs11.CKO_SECRET_KEY), uint(pkcs11.CKK_AES)
	switch want {
	case keptRSA:
		class, keyType = pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA
	case keptEC:
		class, keyType = pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_EC
	case keptHMAC:
		keyType = pkcs11.CKK_GENERIC_SECRET
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}
	for _, u := range use {
		tmpl = append(tmpl, pkcs11.NewAttribute(u, true))
	}
	h, err := m.mod.UnwrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, kek, req.Wrapped[1:], tmpl)
	if err != nil {
		if isRV(err, pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE, pkcs11.CKR_GENERAL_ERROR) {
			return 0, fmt.Errorf("%w: the kept key does not unwrap under this tenant's KEK: %w", backend.ErrIntegrity, err)
		}
		return 0, unavailable("C_UnwrapKey", err)
	}
	return h, nil
}

// WithKeptBlock implements backend.KeyKeeper.
func (b *Backend) WithKeptBlock(ctx context.Context, req backend.KeptKeyRequest, fn func(cipher.Block) error) error {
	_, err := onMember(b, ctx, "use kept AES key", func(m *member) (struct{}, error) {
		return struct{}{}, m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			return m.withKept(s, req, keptAES, []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT}, func(h pkcs11.ObjectHandle) error {
				blk := &hsmBlock{mod: m.mod, s: s, h: h}
				err := fn(blk)
				// The session goes back to the pool with no operation
				// active, whatever fn did.
				if ferr := blk.finish(); ferr != nil && blk.err == nil {
					blk.err = ferr
				}
				if err != nil {
					return err
				}
				return blk.err
			})
		})
	})
	return err
}

// hsmBlock is the AES block cipher of a key inside the HSM: the blocks go
// through one ECB operation on one session (C_EncryptInit once, then a
// C_EncryptUpdate per block: one call per block, not two), started again
// when the direction changes and ended by finish.
type hsmBlock struct {
	mod   p11
	s     pkcs11.SessionHandle
	h     pkcs11.ObjectHandle
	err   error
	count int
	// active is the operation under way: 0 none, 1 encrypt, 2 decrypt.
	active int
}

func (k *hsmBlock) BlockSize() int { return 16 }

func (k *hsmBlock) Encrypt(dst, src []byte) { k.run(dst, src, true) }
func (k *hsmBlock) Decrypt(dst, src []byte) { k.run(dst, src, false) }

func (k *hsmBlock) run(dst, src []byte, encrypt bool) {
	out, err := k.crypt(src[:16], encrypt)
	if err != nil {
		if k.err == nil {
			k.err = err
		}
		clear(dst[:16])
		return
	}
	copy(dst[:16], out)
}

func (k *hsmBlock) crypt(in []byte, encrypt bool) ([]byte, error) {
	if k.err != nil {
		return nil, k.err
	}
	if k.count++; k.count > maxKeptBlocks {
		return nil, fmt.Errorf("pkcs11: more than %d blocks in one use of a kept key", maxKeptBlocks)
	}
	want := 2
	if encrypt {
		want = 1
	}
	if k.active != want {
		if err := k.finish(); err != nil {
			return nil, err
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}
		if encrypt {
			if err := k.mod.EncryptInit(k.s, mech, k.h); err != nil {
				return nil, unavailable("C_EncryptInit", err)
			}
		} else if err := k.mod.DecryptInit(k.s, mech, k.h); err != nil {
			return nil, unavailable("C_DecryptInit", err)
		}
		k.active = want
	}
	var (
		out []byte
		err error
	)
	if encrypt {
		out, err = k.mod.EncryptUpdate(k.s, in)
	} else {
		out, err = k.mod.DecryptUpdate(k.s, in)
	}
	if err != nil {
		k.active = 0 // a failed update ends the operation (PKCS#11 5.8)
		return nil, unavailable("C_EncryptUpdate/C_DecryptUpdate", err)
	}
	if len(out) != 16 {
		return nil, fmt.Errorf("pkcs11: the HSM answered %d bytes for one ECB block", len(out))
	}
	return out, nil
}

// finish ends the operation under way, if any.
func (k *hsmBlock) finish() error {
	active := k.active
	k.active = 0
	var err error
	switch active {
	case 1:
		_, err = k.mod.EncryptFinal(k.s)
	case 2:
		_, err = k.mod.DecryptFinal(k.s)
	default:
		return nil
	}
	if err != nil {
		return unavailable("C_EncryptFinal/C_DecryptFinal", err)
	}
	return nil
}

// digestInfo are the DER prefixes of PKCS#1 v1.5's DigestInfo (RFC 8017
// section 9.2, note 1).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssHashes are the hash and MGF1 mechanisms of PSS per hash.
var pssHashes = map[crypto.Hash][2]uint{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// KeptSign implements backend.KeyKeeper.
func (b *Backend) KeptSign(ctx context.Context, req backend.KeptSignRequest) ([]byte, error) {
	if len(req.Digest) != req.Hash.Size() {
		return nil, fmt.Errorf("pkcs11: kept sign: the digest is not a %s digest", req.Hash)
	}
	var (
		kind  byte
		mech  *pkcs11.Mechanism
		input = req.Digest
	)
	switch req.Scheme {
	case backend.SignPKCS1v15:
		prefix, ok := digestInfo[req.Hash]
		if !ok {
			return nil, fmt.Errorf("pkcs11: kept sign: PKCS#1 v1.5 with %s is not supported", req.Hash)
		}
		kind, mech = keptRSA, pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
		input = append(append([]byte(nil), prefix...), req.Digest...)
	case backend.SignPSS:
		h, ok := pssHashes[req.Hash]
		if !ok {
			return nil, fmt.Errorf("pkcs11: kept sign: PSS with %s is not supported", req.Hash)
		}
		salt := req.SaltLength
		if salt == 0 {
			salt = req.Hash.Size()
		}
		kind, mech = keptRSA, pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(h[0], h[1], uint(salt)))
	case backend.SignECDSA:
		kind, mech = keptEC, pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
	default:
		return nil, fmt.Errorf("pkcs11: kept sign: unknown scheme %d", req.Scheme)
	}
	return onMember(b, ctx, "sign with kept key", func(m *member) ([]byte, error) {
		var sig []byte
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			return m.withKept(s, req.KeptKeyRequest, kind, []uint{pkcs11.CKA_SIGN}, func(h pkcs11.ObjectHandle) error {
				if err := m.mod.SignInit(s, []*pkcs11.Mechanism{mech}, h); err != nil {
					return unavailable("C_SignInit", err)
				}
				var err error
				if sig, err = m.mod.Sign(s, input); err != nil {
					return unavailable("C_Sign", err)
				}
				return nil
			})
		})
		if err != nil || kind != keptEC {
			return sig, err
		}
		// CKM_ECDSA answers r || s; Go and X.509 write ASN.1 DER.
		if len(sig)%2 != 0 || len(sig) == 0 {
			return nil, errors.New("the HSM returned a malformed ECDSA signature")
		}
		half := len(sig) / 2
		return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
	})
}

// KeptDecrypt implements backend.KeyKeeper: C_Decrypt with the kept RSA
// private key, unwrapped for decryption only. The plaintext (the data, or
// the key a client wrapped under the pair's public key) is the output;
// the private key never leaves the HSM.
func (b *Backend) KeptDecrypt(ctx context.Context, req backend.KeptDecryptRequest) ([]byte, error) {
	var mech *pkcs11.Mechanism
	switch req.Scheme {
	case backend.DecryptOAEP:
		h, ok := pssHashes[req.Hash]
		mgf, okMGF := pssHashes[req.MGFHash]
		if !ok || !okMGF {
			return nil, fmt.Errorf("pkcs11: kept decrypt: OAEP with %s and MGF1 %s is not supported", req.Hash, req.MGFHash)
		}
		var source uint
		if len(req.Label) > 0 {
			source = pkcs11.CKZ_DATA_SPECIFIED
		}
		mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.NewOAEPParams(h[0], mgf[1], source, req.Label))
	case backend.DecryptPKCS1v15:
		mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
	default:
		return nil, fmt.Errorf("pkcs11: kept decrypt: unknown scheme %d", req.Scheme)
	}
	return onMember(b, ctx, "decrypt with kept key", func(m *member) ([]byte, error) {
		var out []byte
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			return m.withKept(s, req.KeptKeyRequest, keptRSA, []uint{pkcs11.CKA_DECRYPT}, func(h pkcs11.ObjectHandle) error {
				if err := m.mod.DecryptInit(s, []*pkcs11.Mechanism{mech}, h); err != nil {
					if isRV(err, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_ARGUMENTS_BAD) {
						// SoftHSM2 does OAEP with SHA-1 only.
						return fmt.Errorf("%w: the HSM refuses this RSA decryption (%s, hash %s, MGF1 %s): %v", backend.ErrNotSupported, schemeName(req.Scheme), req.Hash, req.MGFHash, err)
					}
					return unavailable("C_DecryptInit", err)
				}
				var err error
				out, err = m.mod.Decrypt(s, req.Ciphertext)
				if err != nil {
					if isRV(err, pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE, pkcs11.CKR_DATA_INVALID, pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_GENERAL_ERROR) {
						// One answer for every cause: no padding oracle.
						return backend.ErrDecrypt
					}
					return unavailable("C_Decrypt", err)
				}
				return nil
			})
		})
		return out, err
	})
}

// KeptMAC implements backend.KeyKeeper: C_Sign with an HMAC mechanism and
// the kept HMAC key.
func (b *Backend) KeptMAC(ctx context.Context, req backend.KeptMACRequest) ([]byte, error) {
	mech, ok := hmacMechanisms[req.Hash]
	if !ok {
		return nil, fmt.Errorf("pkcs11: kept MAC: HMAC with %s is not supported", req.Hash)
	}
	return onMember(b, ctx, "MAC with kept key", func(m *member) ([]byte, error) {
		var out []byte
		err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			return m.withKept(s, req.KeptKeyRequest, keptHMAC, []uint{pkcs11.CKA_SIGN}, func(h pkcs11.ObjectHandle) error {
				if err := m.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, h); err != nil {
					if isRV(err, pkcs11.CKR_KEY_SIZE_RANGE, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_KEY_TYPE_INCONSISTENT) {
						// The key, not the HSM: SoftHSM2 wants HMAC keys at
						// least as long as the hash's output.
						return fmt.Errorf("%w: the HSM refuses HMAC with %s for this key: %v", backend.ErrNotSupported, req.Hash, err)
					}
					return unavailable("C_SignInit", err)
				}
				var err error
				if out, err = m.mod.Sign(s, req.Data); err != nil {
					return unavailable("C_Sign", err)
				}
				return nil
			})
		})
		return out, err
	})
}

func schemeName(s backend.DecryptScheme) string {
	if s == backend.DecryptOAEP {
		return "OAEP"
	}
	return "PKCS#1 v1.5"
}
