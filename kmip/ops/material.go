package ops

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/internal/secp256k1"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Key material: how the server keeps it sealed, and its conversions
// between Key Format Types (KMIP 1.4 section 2.1.3, 9.1.3.2.3).
//
// What the root of trust seals for an object is a header of this package's
// own followed by a payload:
//
//	magic (8 bytes) | Key Format Type (4) | subtype (4) | payload
//
// The payload is the material exactly as the client registered it: the
// bytes of a Byte String Key Material (Raw, Opaque, PKCS#1, PKCS#8, X.509,
// EC Private Key), the whole Key Material item (TTLV) of a Transparent
// format, the Certificate Value, the Opaque Data Value, or a Template's
// attribute list. The header says which format the payload is in, so that
// Get returns it byte for byte by default and converts from it on request,
// and holds the one value the object structure carries besides its
// material (Secret Data Type, Certificate Type, Opaque Data Type), which
// KMIP does not make an attribute. Both live in the sealed bytes rather
// than in attributes: clients never see them in GetAttributes, and the
// store cannot alter them without Open failing. The Digest attribute is
// computed on the payload alone (Register sets it), as KMIP wants.
//
// Material sealed without the header is Raw symmetric key material: what
// Create seals. A created key that happened to begin with the magic would
// also need a valid symmetric format and a zero subtype to be taken for a
// header (a chance of 2^-128); unsealMaterial checks both.

// sealedMagic starts every sealed payload that has a header.
var sealedMagic = [8]byte{0x00, 0xff, 'k', 'm', 'a', 'm', 't', 0x01}

const sealedHeaderLen = len(sealedMagic) + 8

// storedMaterial is an object's sealed content, opened.
type storedMaterial struct {
	// format is the Key Format Type of a key's payload; zero for
	// certificates, opaque objects and templates.
	format kmip14.KeyFormatType
	// subtype is the Secret Data Type, Certificate Type or Opaque Data Type.
	subtype uint32
	payload []byte
}

// seal renders m for the root of trust to seal.
func (m storedMaterial) seal() []byte {
	b := make([]byte, 0, sealedHeaderLen+len(m.payload))
	b = append(b, sealedMagic[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(m.format))
	b = binary.BigEndian.AppendUint32(b, m.subtype)
	return append(b, m.payload...)
}

// unsealMaterial reads what material() opened for an object of type t.
// The payload aliases plain.
func unsealMaterial(t kmip14.ObjectType, plain []byte) (storedMaterial, error) {
	if len(plain) >= sealedHeaderLen && bytes.Equal(plain[:len(sealedMagic)], sealedMagic[:]) {
		m := storedMaterial{
			format:  kmip14.KeyFormatType(binary.BigEndian.Uint32(plain[len(sealedMagic):])),
			subtype: binary.BigEndian.Uint32(plain[len(sealedMagic)+4:]),
			payload: plain[sealedHeaderLen:],
		}
		if t != kmip14.ObjectTypeSymmetricKey || m.subtype == 0 && (slices.Contains(registerFormats[t], m.format) || m.format == keptFormat) {
			return m, nil
		}
	}
	if t == kmip14.ObjectTypeSymmetricKey {
		return storedMaterial{format: kmip14.KeyFormatTypeRaw, payload: plain}, nil
	}
	return storedMaterial{}, fmt.Errorf("sealed material of a %s has no header", t)
}

// registerFormats are the Key Format Types Register accepts per object
// type; Get returns material in the format it was registered in, or in
// any other that convertKey can produce from it.
var registerFormats = map[kmip14.ObjectType][]kmip14.KeyFormatType{
	kmip14.ObjectTypeSymmetricKey: {kmip14.KeyFormatTypeRaw, kmip14.KeyFormatTypeOpaque, kmip14.KeyFormatTypeTransparentSymmetricKey},
	kmip14.ObjectTypeSecretData:   {kmip14.KeyFormatTypeRaw, kmip14.KeyFormatTypeOpaque},
	kmip14.ObjectTypePublicKey: {
		kmip14.KeyFormatTypePKCS_1, kmip14.KeyFormatTypeX_509, kmip14.KeyFormatTypeTransparentRSAPublicKey,
		kmip14.KeyFormatTypeTransparentECPublicKey, kmip14.KeyFormatTypeTransparentDSAPublicKey,
	},
	kmip14.ObjectTypePrivateKey: {
		kmip14.KeyFormatTypePKCS_1, kmip14.KeyFormatTypePKCS_8, kmip14.KeyFormatTypeECPrivateKey,
		kmip14.KeyFormatTypeTransparentRSAPrivateKey, kmip14.KeyFormatTypeTransparentECPrivateKey,
		kmip14.KeyFormatTypeTransparentDSAPrivateKey,
	},
}

// transparent reports whether Key Material of format f is a structure
// rather than a Byte String.
func transparent(f kmip14.KeyFormatType) bool {
	return f >= kmip14.KeyFormatTypeTransparentSymmetricKey && f <= kmip14.KeyFormatTypeTransparentECPublicKey
}

// materialPayload returns what is sealed for a Key Material item of
// format f: a Byte String's bytes, or the whole item of a Transparent
// format.
func materialPayload(f kmip14.KeyFormatType, item ttlv.TTLV) ([]byte, error) {
	want := ttlv.TypeByteString
	if transparent(f) {
		want = ttlv.TypeStructure
	}
	if item.Type() != want {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Key Material in format %s must be a %s, not a %s", f, want, item.Type())
	}
	if want == ttlv.TypeByteString {
		return bytes.Clone(item.ValueByteString()), nil
	}
	return bytes.Clone(item), nil
}

// materialItem is the inverse of materialPayload.
func materialItem(f kmip14.KeyFormatType, payload []byte) ttlv.TTLV {
	if transparent(f) {
		return bytes.Clone(payload)
	}
	return message.KeyMaterialBytes(payload)
}

// The keys parseKey returns besides the crypto types.
type (
	// symmetricKey is Raw or Transparent Symmetric Key material.
	symmetricKey []byte
	// opaqueKey is material in the Opaque format: never converted.
	opaqueKey []byte
	// dsaKey is a Transparent DSA key, validated but never converted
	// (Go's crypto/x509 does not encode DSA keys).
	dsaKey struct{ p *big.Int }
)

// badMaterial is the error for material that does not parse.
func badMaterial(f kmip14.KeyFormatType, err error) error {
	return message.Errorf(kmip20.ResultReasonInvalidField, "the key material is not a valid %s key: %v", f, err)
}

// parseKey decodes a Key Material item of format f for an object of type
// t into a key: symmetricKey, opaqueKey, *rsa.PrivateKey,
// *ecdsa.PrivateKey, *rsa.PublicKey, *ecdsa.PublicKey or dsaKey. Errors are
// the client's: Key Format Type Not Supported, or Invalid Field for
// material that is not what its format says.
func parseKey(t kmip14.ObjectType, f kmip14.KeyFormatType, item ttlv.TTLV) (any, error) {
	if !slices.Contains(registerFormats[t], f) {
		return nil, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "key format %s is not supported for a %s", f, t)
	}
	payload, err := materialPayload(f, item)
	if err != nil {
		return nil, err
	}
	if !transparent(f) && len(payload) == 0 {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Key Material is empty")
	}
	private := t == kmip14.ObjectTypePrivateKey
	switch f {
	case kmip14.KeyFormatTypeRaw:
		return symmetricKey(payload), nil
	case kmip14.KeyFormatTypeOpaque:
		return opaqueKey(payload), nil
	case kmip14.KeyFormatTypeTransparentSymmetricKey:
		var k message.TransparentSymmetricKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		if len(k.Key) == 0 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Transparent Symmetric Key has no Key")
		}
		return symmetricKey(k.Key), nil
	case kmip14.KeyFormatTypePKCS_1:
		if private {
			k, err := x509.ParsePKCS1PrivateKey(payload)
			if err != nil {
				return nil, badMaterial(f, err)
			}
			return k, nil
		}
		k, err := x509.ParsePKCS1PublicKey(payload)
		if err != nil {
			return nil, badMaterial(f, err)
		}
		return k, nil
	case kmip14.KeyFormatTypePKCS_8:
		k, err := x509.ParsePKCS8PrivateKey(payload)
		if err != nil {
			if k1, ok := parseK1(f, payload); ok {
				return k1, nil
			}
			return nil, badMaterial(f, err)
		}
		return supportedKey(k)
	case kmip14.KeyFormatTypeECPrivateKey:
		k, err := x509.ParseECPrivateKey(payload)
		if err != nil {
			if k1, ok := parseK1(f, payload); ok {
				return k1, nil
			}
			return nil, badMaterial(f, err)
		}
		return supportedKey(k)
	case kmip14.KeyFormatTypeX_509:
		k, err := x509.ParsePKIXPublicKey(payload)
		if err != nil {
			if k1, ok := parseK1(f, payload); ok {
				return k1, nil
			}
			return nil, badMaterial(f, err)
		}
		return supportedKey(k)
	case kmip14.KeyFormatTypeTransparentRSAPrivateKey:
		var k message.TransparentRSAPrivateKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		return rsaFromTransparent(k)
	case kmip14.KeyFormatTypeTransparentRSAPublicKey:
		var k message.TransparentRSAPublicKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		e, err := publicExponent(k.PublicExponent)
		if err != nil {
			return nil, err
		}
		if k.Modulus == nil || k.Modulus.Sign() <= 0 || k.Modulus.Bit(0) == 0 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the RSA Modulus must be a positive odd number")
		}
		return &rsa.PublicKey{N: k.Modulus, E: e}, nil
	case kmip14.KeyFormatTypeTransparentECPrivateKey:
		var k message.TransparentECPrivateKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		if k.RecommendedCurve == kmip14.RecommendedCurveSECP256K1 && k.D != nil && k.D.Sign() > 0 {
			return parseTransparentK1(k.D.Bytes(), nil)
		}
		c, err := curveOf(k.RecommendedCurve)
		if err != nil {
			return nil, err
		}
		size := (c.Params().BitSize + 7) / 8
		if k.D == nil || k.D.Sign() <= 0 || len(k.D.Bytes()) > size {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "D is not a private key on %s", k.RecommendedCurve)
		}
		priv, err := ecdsa.ParseRawPrivateKey(c, k.D.FillBytes(make([]byte, size)))
		if err != nil {
			return nil, badMaterial(f, err)
		}
		return priv, nil
	case kmip14.KeyFormatTypeTransparentECPublicKey:
		var k message.TransparentECPublicKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		if k.RecommendedCurve == kmip14.RecommendedCurveSECP256K1 {
			return parseTransparentK1(nil, k.QString)
		}
		c, err := curveOf(k.RecommendedCurve)
		if err != nil {
			return nil, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, k.QString)
		if err != nil {
			return nil, badMaterial(f, err)
		}
		return pub, nil
	case kmip14.KeyFormatTypeTransparentDSAPrivateKey:
		var k message.TransparentDSAPrivateKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		return dsaFromTransparent(k.P, k.Q, k.G, k.X, true)
	case kmip14.KeyFormatTypeTransparentDSAPublicKey:
		var k message.TransparentDSAPublicKey
		if err := message.Unmarshal(item, &k); err != nil {
			return nil, badMaterial(f, err)
		}
		return dsaFromTransparent(k.P, k.Q, k.G, k.Y, false)
	}
	return nil, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "key format %s is not supported", f)
}

// supportedKey keeps the key types the server converts: RSA and ECDSA
// (NIST curves).
func supportedKey(k any) (any, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if _, err := curveName(k.Curve); err != nil {
			return nil, err
		}
		return k, nil
	case *ecdsa.PublicKey:
		if _, err := curveName(k.Curve); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "keys of type %T are not supported (RSA and NIST-curve EC keys are)", k)
}

// convertKey renders key in format f as a Key Material item, or answers
// Key Format Type Not Supported when f is not a form of that key.
func convertKey(key any, f kmip14.KeyFormatType) (ttlv.TTLV, error) {
	var (
		der []byte
		v   any
		err error
	)
	switch k := key.(type) {
	case symmetricKey:
		switch f {
		case kmip14.KeyFormatTypeRaw:
			der = k
		case kmip14.KeyFormatTypeTransparentSymmetricKey:
			v = message.TransparentSymmetricKey{Key: k}
		}
	case *rsa.PrivateKey:
		switch f {
		case kmip14.KeyFormatTypePKCS_1:
			if len(k.Primes) >= 2 {
				der = x509.MarshalPKCS1PrivateKey(k)
			}
		case kmip14.KeyFormatTypePKCS_8:
			der, err = x509.MarshalPKCS8PrivateKey(k)
		case kmip14.KeyFormatTypeTransparentRSAPrivateKey:
			if len(k.Primes) == 2 {
				k.Precompute()
				v = message.TransparentRSAPrivateKey{
					Modulus: k.N, PrivateExponent: k.D, PublicExponent: big.NewInt(int64(k.E)),
					P: k.Primes[0], Q: k.Primes[1],
					PrimeExponentP: k.Precomputed.Dp, PrimeExponentQ: k.Precomputed.Dq, CRTCoefficient: k.Precomputed.Qinv,
				}
			}
		}
	case *rsa.PublicKey:
		switch f {
		case kmip14.KeyFormatTypePKCS_1:
			der = x509.MarshalPKCS1PublicKey(k)
		case kmip14.KeyFormatTypeX_509:
			der, err = x509.MarshalPKIXPublicKey(k)
		case kmip14.KeyFormatTypeTransparentRSAPublicKey:
			v = message.TransparentRSAPublicKey{Modulus: k.N, PublicExponent: big.NewInt(int64(k.E))}
		}
	case *ecdsa.PrivateKey:
		switch f {
		case kmip14.KeyFormatTypePKCS_8:
			der, err = x509.MarshalPKCS8PrivateKey(k)
		case kmip14.KeyFormatTypeECPrivateKey:
			der, err = x509.MarshalECPrivateKey(k)
		case kmip14.KeyFormatTypeTransparentECPrivateKey:
			var d []byte
			if d, err = k.Bytes(); err == nil {
				var curve kmip14.RecommendedCurve
				if curve, err = curveName(k.Curve); err == nil {
					v = message.TransparentECPrivateKey{RecommendedCurve: curve, D: new(big.Int).SetBytes(d)}
				}
			}
		}
	case *ecdsa.PublicKey:
		switch f {
		case kmip14.KeyFormatTypeX_509:
			der, err = x509.MarshalPKIXPublicKey(k)
		case kmip14.KeyFormatTypeTransparentECPublicKey:
			var q []byte
			if q, err = k.Bytes(); err == nil {
				var curve kmip14.RecommendedCurve
				if curve, err = curveName(k.Curve); err == nil {
					v = message.TransparentECPublicKey{RecommendedCurve: curve, QString: q}
				}
			}
		}
	}
	if der == nil && v == nil && err == nil {
		der, v, err = convertK1(key, f)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("convert key to %s: %w", f, err)
	case der != nil:
		return message.KeyMaterialBytes(der), nil
	case v != nil:
		item, err := message.EncodeKeyMaterial(v)
		if err != nil {
			return nil, fmt.Errorf("convert key to %s: %w", f, err)
		}
		return item, nil
	}
	return nil, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "this key is not available in key format %s", f)
}

// keyFacts returns the algorithm family and the length in bits of an
// asymmetric key: RSA, EC or DSA.
func keyFacts(key any) (kmip14.CryptographicAlgorithm, int32) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return kmip14.CryptographicAlgorithmRSA, int32(k.N.BitLen())
	case *rsa.PublicKey:
		return kmip14.CryptographicAlgorithmRSA, int32(k.N.BitLen())
	case *ecdsa.PrivateKey:
		return kmip14.CryptographicAlgorithmEC, int32(k.Curve.Params().BitSize)
	case *ecdsa.PublicKey:
		return kmip14.CryptographicAlgorithmEC, int32(k.Curve.Params().BitSize)
	case dsaKey:
		return kmip14.CryptographicAlgorithmDSA, int32(k.p.BitLen())
	case *secp256k1.PrivateKey, *secp256k1.PublicKey:
		return kmip14.CryptographicAlgorithmEC, 256
	}
	return 0, 0
}

// algorithmFits reports whether the Cryptographic Algorithm a client gave
// names the family of the key: any of the EC algorithms fits an EC key.
func algorithmFits(family, alg kmip14.CryptographicAlgorithm) bool {
	if family == kmip14.CryptographicAlgorithmEC {
		switch alg {
		case kmip14.CryptographicAlgorithmEC, kmip14.CryptographicAlgorithmECDSA,
			kmip14.CryptographicAlgorithmECDH, kmip14.CryptographicAlgorithmECMQV:
			return true
		}
		return false
	}
	return alg == family
}

// familyAlgorithm is the Cryptographic Algorithm the server records for a
// key of the given family when the client names none: EC exists from KMIP
// 1.3 on, older clients know EC keys as ECDSA.
func familyAlgorithm(family kmip14.CryptographicAlgorithm, v message.Version) kmip14.CryptographicAlgorithm {
	if family == kmip14.CryptographicAlgorithmEC && !v.AtLeast(message.V1_3) {
		return kmip14.CryptographicAlgorithmECDSA
	}
	return family
}

var curves = []struct {
	name  kmip14.RecommendedCurve
	curve elliptic.Curve
}{
	{kmip14.RecommendedCurveP_224, elliptic.P224()},
	{kmip14.RecommendedCurveP_256, elliptic.P256()},
	{kmip14.RecommendedCurveP_384, elliptic.P384()},
	{kmip14.RecommendedCurveP_521, elliptic.P521()},
}

func curveOf(name kmip14.RecommendedCurve) (elliptic.Curve, error) {
	for _, c := range curves {
		if c.name == name {
			return c.curve, nil
		}
	}
	return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "curve %s is not supported (P-224, P-256, P-384 and P-521 are)", name)
}

func curveName(c elliptic.Curve) (kmip14.RecommendedCurve, error) {
	for _, k := range curves {
		if k.curve == c {
			return k.name, nil
		}
	}
	return 0, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "curve %s is not supported (P-224, P-256, P-384 and P-521 are)", c.Params().Name)
}

func publicExponent(e *big.Int) (int, error) {
	if e == nil {
		return 0, message.Errorf(kmip20.ResultReasonMissingData, "the RSA key has no Public Exponent")
	}
	if e.Sign() <= 0 || e.Bit(0) == 0 || !e.IsInt64() || e.Int64() > math.MaxInt32 {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "RSA Public Exponent %s is not supported", e)
	}
	return int(e.Int64()), nil
}

var bigOne = big.NewInt(1)

// maxRSABits bounds the RSA keys the server accepts.
const maxRSABits = 8192

// rsaFromTransparent builds an RSA private key from a Transparent RSA
// Private Key, which holds P and Q (with or without the Modulus and the
// exponents), or only the Modulus and the Private Exponent (the primes are
// then recovered). Every value given must agree with the others.
func rsaFromTransparent(t message.TransparentRSAPrivateKey) (*rsa.PrivateKey, error) {
	// Recovering the primes from the exponents costs time that grows fast
	// with the modulus: no client needs keys over 8192 bits, and a larger
	// one would hold a CPU for minutes.
	if t.Modulus != nil && t.Modulus.BitLen() > maxRSABits {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "RSA keys of more than %d bits are not accepted", maxRSABits)
	}
	for _, v := range []*big.Int{t.Modulus, t.PrivateExponent, t.P, t.Q, t.PrimeExponentP, t.PrimeExponentQ, t.CRTCoefficient} {
		if v != nil && v.Sign() <= 0 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Transparent RSA Private Key holds a value that is not positive")
		}
	}
	e, err := publicExponent(t.PublicExponent)
	if err != nil {
		return nil, err
	}
	var n, d, p, q *big.Int
	switch {
	case t.P != nil && t.Q != nil:
		p, q = t.P, t.Q
		n = new(big.Int).Mul(p, q)
		if t.Modulus != nil && t.Modulus.Cmp(n) != 0 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the RSA Modulus is not P×Q")
		}
		d = t.PrivateExponent
		if d == nil {
			pm1, qm1 := new(big.Int).Sub(p, bigOne), new(big.Int).Sub(q, bigOne)
			gcd := new(big.Int).GCD(nil, nil, pm1, qm1)
			lambda := new(big.Int).Div(new(big.Int).Mul(pm1, qm1), gcd)
			if d = new(big.Int).ModInverse(big.NewInt(int64(e)), lambda); d == nil {
				return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the RSA Public Exponent has no inverse for these primes")
			}
		}
	case t.Modulus != nil && t.PrivateExponent != nil:
		n, d = t.Modulus, t.PrivateExponent
		if p, q = factorModulus(n, big.NewInt(int64(e)), d); p == nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the RSA Private Exponent does not belong to this Modulus and Public Exponent")
		}
	default:
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "a Transparent RSA Private Key needs P and Q, or the Modulus and the Private Exponent")
	}
	key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
	key.Precompute()
	if err := key.Validate(); err != nil {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Transparent RSA Private Key is not consistent: %v", err)
	}
	for _, c := range []struct{ given, want *big.Int }{
		{t.PrimeExponentP, key.Precomputed.Dp}, {t.PrimeExponentQ, key.Precomputed.Dq}, {t.CRTCoefficient, key.Precomputed.Qinv},
	} {
		if c.given != nil && c.given.Cmp(c.want) != 0 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the CRT values of the Transparent RSA Private Key do not match its primes")
		}
	}
	return key, nil
}

// factorModulus recovers the primes of n from a matching exponent pair
// (e, d): e·d-1 is a multiple of λ(n), and a square root of 1 modulo n
// other than ±1, found from it with small bases, shares a factor with n.
// It returns nils when (e, d) does not fit n.
func factorModulus(n, e, d *big.Int) (p, q *big.Int) {
	k := new(big.Int).Mul(e, d)
	k.Sub(k, bigOne)
	if k.Sign() <= 0 || k.Bit(0) != 0 || n.Bit(0) == 0 {
		return nil, nil
	}
	t := k.TrailingZeroBits()
	r := new(big.Int).Rsh(k, t)
	nm1 := new(big.Int).Sub(n, bigOne)
	for g := int64(2); g < 100; g++ {
		y := new(big.Int).Exp(big.NewInt(g), r, n)
		if y.Cmp(bigOne) == 0 || y.Cmp(nm1) == 0 {
			continue
		}
		for range t {
			x := new(big.Int).Exp(y, big.NewInt(2), n)
			if x.Cmp(bigOne) == 0 {
				p = new(big.Int).GCD(nil, nil, new(big.Int).Sub(y, bigOne), n)
				if p.Cmp(bigOne) > 0 && p.Cmp(n) < 0 {
					q = new(big.Int).Div(n, p)
					if p.Cmp(q) < 0 {
						p, q = q, p
					}
					return p, q
				}
				break
			}
			if x.Cmp(nm1) == 0 {
				break
			}
			y = x
		}
	}
	return nil, nil
}

// dsaFromTransparent checks the domain parameters and the key value (X
// for a private key, Y for a public one) of a Transparent DSA key.
func dsaFromTransparent(p, q, g, xy *big.Int, private bool) (dsaKey, error) {
	bad := func(what string) (dsaKey, error) {
		return dsaKey{}, message.Errorf(kmip20.ResultReasonInvalidField, "the Transparent DSA key is not valid: %s", what)
	}
	if p == nil || q == nil || g == nil || xy == nil {
		return dsaKey{}, message.Errorf(kmip20.ResultReasonMissingData, "a Transparent DSA key needs P, Q, G and its key value")
	}
	if p.Sign() <= 0 || q.Sign() <= 0 || p.Bit(0) == 0 || q.Bit(0) == 0 {
		return bad("P and Q must be odd primes")
	}
	pm1 := new(big.Int).Sub(p, bigOne)
	if new(big.Int).Mod(pm1, q).Sign() != 0 {
		return bad("Q does not divide P-1")
	}
	if g.Cmp(bigOne) <= 0 || g.Cmp(p) >= 0 || new(big.Int).Exp(g, q, p).Cmp(bigOne) != 0 {
		return bad("G is not a generator of order Q")
	}
	if private {
		if xy.Sign() <= 0 || xy.Cmp(q) >= 0 {
			return bad("X is not in (0, Q)")
		}
	} else if xy.Cmp(bigOne) <= 0 || xy.Cmp(p) >= 0 || new(big.Int).Exp(xy, q, p).Cmp(bigOne) != 0 {
		return bad("Y is not in the subgroup")
	}
	return dsaKey{p: p}, nil
}

// symmetricLength checks n bytes of symmetric key material against the
// algorithm and the Cryptographic Length the client gave (0: none) and
// returns the length to record. DES and 3DES lengths may count the parity
// bits or not.
func symmetricLength(alg kmip14.CryptographicAlgorithm, n int, given int32) (int32, error) {
	bits := int32(n * 8)
	accepted := []int32{bits}
	switch alg {
	case kmip14.CryptographicAlgorithmAES:
		if n != 16 && n != 24 && n != 32 {
			return 0, message.Errorf(kmip20.ResultReasonInvalidField, "an AES key is 16, 24 or 32 bytes, not %d", n)
		}
	case kmip14.CryptographicAlgorithmDES3:
		switch n {
		case 16:
			accepted = []int32{112, 128}
		case 24:
			accepted = []int32{168, 192}
		default:
			return 0, message.Errorf(kmip20.ResultReasonInvalidField, "a 3DES key is 16 or 24 bytes, not %d", n)
		}
	case kmip14.CryptographicAlgorithmDES:
		if n != 8 {
			return 0, message.Errorf(kmip20.ResultReasonInvalidField, "a DES key is 8 bytes, not %d", n)
		}
		accepted = []int32{56, 64}
	}
	if given == 0 {
		return accepted[0], nil
	}
	if !slices.Contains(accepted, given) {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d does not match %d bytes of %s key material", given, n, alg)
	}
	return given, nil
}
