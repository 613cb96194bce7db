package pkcs11

import (
	"context"
	"crypto"
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

// Asymmetric key generation inside the HSM. KMIP Create Key Pair hands the
// private key to the client (Get), so it has to leave the HSM; what this
// guarantees is that it is made by the HSM (C_GenerateKeyPair), never by
// Go's random number generator (which, since Go 1.26, crypto/rsa and
// crypto/ecdsa use whatever reader they are given). The pair is made as
// session objects that may be read (CKA_SENSITIVE false), read once, and
// destroyed.
//
// HSMs in FIPS mode (Luna) refuse a readable private key: the generation
// then fails with the HSM's reason (CKR_TEMPLATE_INCONSISTENT or
// CKR_ATTRIBUTE_VALUE_INVALID), and the caller must choose another
// source, or wrap the key out instead (not implemented).

// GenerateRSA makes an RSA key pair of bits (2048 to 4096) in the HSM with
// public exponent 65537.
func (b *Backend) GenerateRSA(ctx context.Context, bits int) (*rsa.PrivateKey, error) {
	if bits < 2048 || bits > 4096 {
		return nil, fmt.Errorf("pkcs11: generate RSA: %d bits is outside 2048..4096", bits)
	}
	return onMember(b, ctx, fmt.Sprintf("generate RSA-%d", bits), func(m *member) (*rsa.PrivateKey, error) {
		return m.generateRSA(ctx, bits)
	})
}

// GenerateECDSA makes an EC key pair on curve (P-256, P-384 or P-521) in
// the HSM.
func (b *Backend) GenerateECDSA(ctx context.Context, curve elliptic.Curve) (*ecdsa.PrivateKey, error) {
	oid, ok := curveOIDs[curve]
	if !ok {
		return nil, fmt.Errorf("pkcs11: generate EC: curve %v is not P-256, P-384 or P-521", curve)
	}
	params, err := asn1.Marshal(oid)
	if err != nil {
		return nil, err
	}
	return onMember(b, ctx, "generate EC "+curve.Params().Name, func(m *member) (*ecdsa.PrivateKey, error) {
		return m.generateEC(ctx, curve, params)
	})
}

var curveOIDs = map[elliptic.Curve]asn1.ObjectIdentifier{
	elliptic.P256(): {1, 2, 840, 10045, 3, 1, 7},
	elliptic.P384(): {1, 3, 132, 0, 34},
	elliptic.P521(): {1, 3, 132, 0, 35},
}

// readablePair are the templates of a session key pair whose private half
// may be read once.
func readablePair(public, private []*pkcs11.Attribute) ([]*pkcs11.Attribute, []*pkcs11.Attribute) {
	public = append(public,
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
	)
	private = append(private,
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
	)
	return public, private
}

// generatePair runs C_GenerateKeyPair and reads attributes of the private
// half, destroying both halves before it returns.
func (m *member) generatePair(ctx context.Context, mech uint, public, private []*pkcs11.Attribute, read ...uint) (map[uint][]byte, error) {
	var out map[uint][]byte
	err := m.withSession(ctx, func(s pkcs11.SessionHandle) error {
		pub, priv, err := m.mod.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, public, private)
		if err != nil {
			return unavailable("C_GenerateKeyPair", err)
		}
		defer func() {
			_ = m.mod.DestroyObject(s, priv)
			_ = m.mod.DestroyObject(s, pub)
		}()
		out, err = attrs(m.mod, s, priv, read...)
		if err != nil {
			return unavailable("C_GetAttributeValue", err)
		}
		return nil
	})
	return out, err
}

func (m *member) generateRSA(ctx context.Context, bits int) (*rsa.PrivateKey, error) {
	public, private := readablePair([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, bits),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{0x01, 0x00, 0x01}),
	}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
	})
	a, err := m.generatePair(ctx, pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, public, private,
		pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT, pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1, pkcs11.CKA_PRIME_2)
	if err != nil {
		return nil, err
	}
	num := func(t uint) *big.Int { return new(big.Int).SetBytes(a[t]) }
	e := num(pkcs11.CKA_PUBLIC_EXPONENT)
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, errors.New("the HSM returned an unusable public exponent")
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: num(pkcs11.CKA_MODULUS), E: int(e.Int64())},
		D:         num(pkcs11.CKA_PRIVATE_EXPONENT),
		Primes:    []*big.Int{num(pkcs11.CKA_PRIME_1), num(pkcs11.CKA_PRIME_2)},
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("the HSM's key pair does not validate: %w", err)
	}
	key.Precompute()
	if key.N.BitLen() != bits {
		return nil, fmt.Errorf("the HSM made a %d-bit modulus, not %d", key.N.BitLen(), bits)
	}
	return key, nil
}

func (m *member) generateEC(ctx context.Context, curve elliptic.Curve, params []byte) (*ecdsa.PrivateKey, error) {
	public, private := readablePair([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
	}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
	})
	a, err := m.generatePair(ctx, pkcs11.CKM_EC_KEY_PAIR_GEN, public, private, pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	// CKA_VALUE is the private scalar, big endian, perhaps shorter than
	// the curve's size.
	size := (curve.Params().BitSize + 7) / 8
	d := a[pkcs11.CKA_VALUE]
	if len(d) > size {
		return nil, errors.New("the HSM returned a private value longer than the curve's order")
	}
	raw := make([]byte, size)
	copy(raw[size-len(d):], d)
	key, err := ecdsa.ParseRawPrivateKey(curve, raw)
	if err != nil {
		return nil, fmt.Errorf("the HSM's private value is unusable: %w", err)
	}
	return key, nil
}

// GenerateKeyPair implements backend.KeyPairGenerator with GenerateRSA or
// GenerateECDSA: the extractable pairs of Create Key Pair come from the
// HSM's C_GenerateKeyPair, never from Go's random number generator.
func (b *Backend) GenerateKeyPair(ctx context.Context, req backend.GenerateKeyPairRequest) (crypto.Signer, error) {
	if req.RSABits != 0 {
		return b.GenerateRSA(ctx, req.RSABits)
	}
	if req.Curve == nil {
		return nil, errors.New("pkcs11: generate key pair: neither RSA bits nor a curve given")
	}
	return b.GenerateECDSA(ctx, req.Curve)
}

var _ backend.KeyPairGenerator = (*Backend)(nil)
