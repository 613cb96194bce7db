package ops

import (
	"bytes"
	"crypto/dsa" //nolint:staticcheck // DSA keys are only checked, and the test needs real parameters
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/internal/secp256k1"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

var unitKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return r, e
})

func reasonOf(err error) kmip20.ResultReason {
	var me *message.Error
	if errors.As(err, &me) {
		return me.Reason
	}
	return 0
}

func TestSealedMaterial(t *testing.T) {
	for _, m := range []struct {
		t  kmip14.ObjectType
		st storedMaterial
	}{
		{kmip14.ObjectTypeSymmetricKey, storedMaterial{format: kmip14.KeyFormatTypeTransparentSymmetricKey, payload: []byte("item")}},
		{kmip14.ObjectTypeSymmetricKey, storedMaterial{format: kmip14.KeyFormatTypeRaw, payload: []byte("0123456789abcdef")}},
		{kmip14.ObjectTypeSecretData, storedMaterial{format: kmip14.KeyFormatTypeOpaque, subtype: uint32(kmip14.SecretDataTypePassword), payload: []byte("pw")}},
		{kmip14.ObjectTypeOpaqueObject, storedMaterial{subtype: 0x80000001, payload: nil}},
		{kmip14.ObjectTypeCertificate, storedMaterial{subtype: 1, payload: []byte{0x30}}},
	} {
		got, err := unsealMaterial(m.t, m.st.seal())
		require.NoError(t, err)
		assert.Equal(t, m.st.format, got.format)
		assert.Equal(t, m.st.subtype, got.subtype)
		assert.Equal(t, string(m.st.payload), string(got.payload))
	}

	// What Create seals: the raw key, no header.
	raw := []byte("0123456789abcdef0123456789abcdef")
	got, err := unsealMaterial(kmip14.ObjectTypeSymmetricKey, raw)
	require.NoError(t, err)
	assert.Equal(t, storedMaterial{format: kmip14.KeyFormatTypeRaw, payload: raw}, got)

	// A created key that begins with the magic is still a raw key unless
	// the rest is a valid header for a symmetric key.
	odd := append(append([]byte{}, sealedMagic[:]...), 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
	got, err = unsealMaterial(kmip14.ObjectTypeSymmetricKey, odd)
	require.NoError(t, err)
	assert.Equal(t, odd, got.payload)

	_, err = unsealMaterial(kmip14.ObjectTypePrivateKey, raw)
	assert.Error(t, err, "only symmetric keys exist without a header")
}

// keyMaterialItem encodes v (a []byte or a Transparent structure) as a
// Key Material item.
func keyMaterialItem(t *testing.T, v any) ttlv.TTLV {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return message.KeyMaterialBytes(b)
	}
	item, err := message.EncodeKeyMaterial(v)
	require.NoError(t, err)
	return item
}

// TestConvertKey converts every key kind from each of its formats to each
// of them and back, and refuses the formats a kind does not have.
func TestConvertKey(t *testing.T) {
	rk, ek := unitKeys()
	rsaPKCS8, err := x509.MarshalPKCS8PrivateKey(rk)
	require.NoError(t, err)
	rsaSPKI, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	require.NoError(t, err)
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(ek)
	require.NoError(t, err)
	ecSEC1, err := x509.MarshalECPrivateKey(ek)
	require.NoError(t, err)
	ecSPKI, err := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	require.NoError(t, err)
	d, err := ek.Bytes()
	require.NoError(t, err)
	q, err := ek.PublicKey.Bytes()
	require.NoError(t, err)
	e := big.NewInt(int64(rk.E))
	k1, err := secp256k1.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k1SEC1, err := secp256k1.MarshalECPrivateKey(k1)
	require.NoError(t, err)
	k1PKCS8, err := secp256k1.MarshalPKCS8PrivateKey(k1)
	require.NoError(t, err)
	k1SPKI, err := secp256k1.MarshalPKIXPublicKey(k1.Public())
	require.NoError(t, err)

	all := []kmip14.KeyFormatType{
		kmip14.KeyFormatTypeRaw, kmip14.KeyFormatTypeOpaque, kmip14.KeyFormatTypePKCS_1, kmip14.KeyFormatTypePKCS_8,
		kmip14.KeyFormatTypeX_509, kmip14.KeyFormatTypeECPrivateKey, kmip14.KeyFormatTypeTransparentSymmetricKey,
		kmip14.KeyFormatTypeTransparentRSAPrivateKey, kmip14.KeyFormatTypeTransparentRSAPublicKey,
		kmip14.KeyFormatTypeTransparentECPrivateKey, kmip14.KeyFormatTypeTransparentECPublicKey,
		kmip14.KeyFormatTypeTransparentDSAPrivateKey, kmip14.KeyFormatTypePKCS_12,
	}
	for _, c := range []struct {
		name   string
		t      kmip14.ObjectType
		forms  map[kmip14.KeyFormatType]any
		family kmip14.CryptographicAlgorithm
		bits   int32
	}{
		{"symmetric", kmip14.ObjectTypeSymmetricKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypeRaw:                     []byte("0123456789abcdef"),
			kmip14.KeyFormatTypeTransparentSymmetricKey: message.TransparentSymmetricKey{Key: []byte("0123456789abcdef")},
		}, 0, 0},
		{"RSA private", kmip14.ObjectTypePrivateKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_1: x509.MarshalPKCS1PrivateKey(rk),
			kmip14.KeyFormatTypePKCS_8: rsaPKCS8,
			kmip14.KeyFormatTypeTransparentRSAPrivateKey: message.TransparentRSAPrivateKey{
				Modulus: rk.N, PrivateExponent: rk.D, PublicExponent: e, P: rk.Primes[0], Q: rk.Primes[1],
				PrimeExponentP: rk.Precomputed.Dp, PrimeExponentQ: rk.Precomputed.Dq, CRTCoefficient: rk.Precomputed.Qinv,
			},
		}, kmip14.CryptographicAlgorithmRSA, 2048},
		{"RSA public", kmip14.ObjectTypePublicKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_1:                  x509.MarshalPKCS1PublicKey(&rk.PublicKey),
			kmip14.KeyFormatTypeX_509:                   rsaSPKI,
			kmip14.KeyFormatTypeTransparentRSAPublicKey: message.TransparentRSAPublicKey{Modulus: rk.N, PublicExponent: e},
		}, kmip14.CryptographicAlgorithmRSA, 2048},
		{"EC private", kmip14.ObjectTypePrivateKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_8:                  ecPKCS8,
			kmip14.KeyFormatTypeECPrivateKey:            ecSEC1,
			kmip14.KeyFormatTypeTransparentECPrivateKey: message.TransparentECPrivateKey{RecommendedCurve: kmip14.RecommendedCurveP_384, D: new(big.Int).SetBytes(d)},
		}, kmip14.CryptographicAlgorithmEC, 384},
		{"EC public", kmip14.ObjectTypePublicKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypeX_509:                  ecSPKI,
			kmip14.KeyFormatTypeTransparentECPublicKey: message.TransparentECPublicKey{RecommendedCurve: kmip14.RecommendedCurveP_384, QString: q},
		}, kmip14.CryptographicAlgorithmEC, 384},
		{"secp256k1 private", kmip14.ObjectTypePrivateKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_8:                  k1PKCS8,
			kmip14.KeyFormatTypeECPrivateKey:            k1SEC1,
			kmip14.KeyFormatTypeTransparentECPrivateKey: message.TransparentECPrivateKey{RecommendedCurve: kmip14.RecommendedCurveSECP256K1, D: new(big.Int).SetBytes(k1.Bytes())},
		}, kmip14.CryptographicAlgorithmEC, 256},
		{"secp256k1 public", kmip14.ObjectTypePublicKey, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypeX_509:                  k1SPKI,
			kmip14.KeyFormatTypeTransparentECPublicKey: message.TransparentECPublicKey{RecommendedCurve: kmip14.RecommendedCurveSECP256K1, QString: k1.Public().Bytes()},
		}, kmip14.CryptographicAlgorithmEC, 256},
	} {
		t.Run(c.name, func(t *testing.T) {
			for from, v := range c.forms {
				key, err := parseKey(c.t, from, keyMaterialItem(t, v))
				require.NoError(t, err, "parse %s", from)
				family, bits := keyFacts(key)
				assert.Equal(t, c.family, family)
				assert.Equal(t, c.bits, bits)
				for _, to := range all {
					got, err := convertKey(key, to)
					want, ok := c.forms[to]
					if !ok {
						assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, reasonOf(err), "%s to %s", from, to)
						continue
					}
					require.NoError(t, err, "%s to %s", from, to)
					assert.Equal(t, keyMaterialItem(t, want), got, "%s to %s", from, to)
				}
			}
		})
	}

	// The Opaque format is never converted.
	key, err := parseKey(kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeOpaque, message.KeyMaterialBytes([]byte("blob")))
	require.NoError(t, err)
	_, err = convertKey(key, kmip14.KeyFormatTypeRaw)
	assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, reasonOf(err))
}

func TestParseKeyRefusals(t *testing.T) {
	rk, _ := unitKeys()
	for _, c := range []struct {
		name   string
		t      kmip14.ObjectType
		f      kmip14.KeyFormatType
		item   ttlv.TTLV
		reason kmip20.ResultReason
	}{
		{"private format for a public key", kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypePKCS_8, message.KeyMaterialBytes([]byte{0x30}), kmip20.ResultReasonKeyFormatTypeNotSupported},
		{"public PKCS#1 as private", kmip14.ObjectTypePrivateKey, kmip14.KeyFormatTypePKCS_1, message.KeyMaterialBytes(x509.MarshalPKCS1PublicKey(&rk.PublicKey)), kmip20.ResultReasonInvalidField},
		{"garbage X.509", kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeX_509, message.KeyMaterialBytes([]byte("not DER")), kmip20.ResultReasonInvalidField},
		{"empty Raw", kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, message.KeyMaterialBytes(nil), kmip20.ResultReasonInvalidField},
		{"Transparent format as a byte string", kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeTransparentSymmetricKey, message.KeyMaterialBytes([]byte("k")), kmip20.ResultReasonInvalidField},
		{"byte format as a structure", kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, keyMaterialItem(t, message.TransparentSymmetricKey{Key: []byte("k")}), kmip20.ResultReasonInvalidField},
		{"unknown curve", kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeTransparentECPublicKey, keyMaterialItem(t, message.TransparentECPublicKey{RecommendedCurve: kmip14.RecommendedCurveP_192, QString: []byte{4}}), kmip20.ResultReasonFeatureNotSupported},
		{"point off the curve", kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeTransparentECPublicKey, keyMaterialItem(t, message.TransparentECPublicKey{RecommendedCurve: kmip14.RecommendedCurveP_256, QString: append([]byte{4}, make([]byte, 64)...)}), kmip20.ResultReasonInvalidField},
		{"even RSA modulus", kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeTransparentRSAPublicKey, keyMaterialItem(t, message.TransparentRSAPublicKey{Modulus: big.NewInt(1 << 20), PublicExponent: big.NewInt(65537)}), kmip20.ResultReasonInvalidField},
		{"PKCS#12", kmip14.ObjectTypePrivateKey, kmip14.KeyFormatTypePKCS_12, message.KeyMaterialBytes([]byte{0x30}), kmip20.ResultReasonKeyFormatTypeNotSupported},
	} {
		_, err := parseKey(c.t, c.f, c.item)
		assert.Equal(t, c.reason, reasonOf(err), "%s: %v", c.name, err)
	}
}

// TestRSAFromTransparent takes the forms clients send: all values, the
// CRT form without Modulus and Private Exponent (as the OASIS vectors
// do), or only the Modulus and the exponents; and refuses values that do
// not agree.
func TestRSAFromTransparent(t *testing.T) {
	rk, _ := unitKeys()
	e := big.NewInt(int64(rk.E))
	p, q := rk.Primes[0], rk.Primes[1]
	dp, dq, qinv := rk.Precomputed.Dp, rk.Precomputed.Dq, rk.Precomputed.Qinv
	one := big.NewInt(1)
	for _, c := range []struct {
		name   string
		k      message.TransparentRSAPrivateKey
		reason kmip20.ResultReason
	}{
		{"everything", message.TransparentRSAPrivateKey{Modulus: rk.N, PrivateExponent: rk.D, PublicExponent: e, P: p, Q: q, PrimeExponentP: dp, PrimeExponentQ: dq, CRTCoefficient: qinv}, 0},
		{"CRT form", message.TransparentRSAPrivateKey{PublicExponent: e, P: p, Q: q, PrimeExponentP: dp, PrimeExponentQ: dq, CRTCoefficient: qinv}, 0},
		{"primes only", message.TransparentRSAPrivateKey{PublicExponent: e, P: p, Q: q}, 0},
		{"modulus and exponents", message.TransparentRSAPrivateKey{Modulus: rk.N, PrivateExponent: rk.D, PublicExponent: e}, 0},
		{"no public exponent", message.TransparentRSAPrivateKey{Modulus: rk.N, PrivateExponent: rk.D}, kmip20.ResultReasonMissingData},
		{"too little", message.TransparentRSAPrivateKey{Modulus: rk.N, PublicExponent: e}, kmip20.ResultReasonMissingData},
		{"modulus not P×Q", message.TransparentRSAPrivateKey{Modulus: new(big.Int).Add(rk.N, big.NewInt(2)), PublicExponent: e, P: p, Q: q}, kmip20.ResultReasonInvalidField},
		{"wrong CRT value", message.TransparentRSAPrivateKey{PublicExponent: e, P: p, Q: q, PrimeExponentP: new(big.Int).Add(dp, one)}, kmip20.ResultReasonInvalidField},
		{"wrong private exponent", message.TransparentRSAPrivateKey{Modulus: rk.N, PrivateExponent: new(big.Int).Add(rk.D, one), PublicExponent: e}, kmip20.ResultReasonInvalidField},
		{"wrong private exponent with primes", message.TransparentRSAPrivateKey{PrivateExponent: new(big.Int).Add(rk.D, one), PublicExponent: e, P: p, Q: q}, kmip20.ResultReasonInvalidField},
		{"negative value", message.TransparentRSAPrivateKey{PublicExponent: e, P: new(big.Int).Neg(p), Q: q}, kmip20.ResultReasonInvalidField},
		{"even exponent", message.TransparentRSAPrivateKey{PublicExponent: big.NewInt(4), P: p, Q: q}, kmip20.ResultReasonInvalidField},
	} {
		key, err := rsaFromTransparent(c.k)
		if c.reason != 0 {
			assert.Equal(t, c.reason, reasonOf(err), "%s: %v", c.name, err)
			continue
		}
		require.NoError(t, err, c.name)
		if c.k.P == nil {
			// Recovered primes come in either order.
			assert.Equal(t, rk.N, key.N, c.name)
			assert.Equal(t, rk.D, key.D, c.name)
			assert.ElementsMatch(t, []string{rk.Primes[0].String(), rk.Primes[1].String()}, []string{key.Primes[0].String(), key.Primes[1].String()}, c.name)
			continue
		}
		assert.True(t, rk.Equal(key), c.name)
		assert.True(t, bytes.Equal(x509.MarshalPKCS1PrivateKey(rk), x509.MarshalPKCS1PrivateKey(key)), "%s: the same PKCS#1 encoding", c.name)
	}

	// The primes in the other order: the same key, its CRT values for
	// that order.
	key, err := rsaFromTransparent(message.TransparentRSAPrivateKey{PublicExponent: e, P: q, Q: p})
	require.NoError(t, err)
	assert.Equal(t, rk.N, key.N)
	assert.Equal(t, rk.D, key.D)
}

func TestFactorModulus(t *testing.T) {
	rk, _ := unitKeys()
	p, q := factorModulus(rk.N, big.NewInt(int64(rk.E)), rk.D)
	require.NotNil(t, p)
	assert.Equal(t, rk.N, new(big.Int).Mul(p, q))
	assert.ElementsMatch(t, []string{rk.Primes[0].String(), rk.Primes[1].String()}, []string{p.String(), q.String()})

	p, _ = factorModulus(rk.N, big.NewInt(3), rk.D)
	assert.Nil(t, p, "an exponent pair of another key")
}

func TestSymmetricLength(t *testing.T) {
	for _, c := range []struct {
		alg    kmip14.CryptographicAlgorithm
		n      int
		given  int32
		want   int32
		reason kmip20.ResultReason
	}{
		{kmip14.CryptographicAlgorithmAES, 16, 0, 128, 0},
		{kmip14.CryptographicAlgorithmAES, 32, 256, 256, 0},
		{kmip14.CryptographicAlgorithmAES, 32, 128, 0, kmip20.ResultReasonInvalidField},
		{kmip14.CryptographicAlgorithmAES, 20, 0, 0, kmip20.ResultReasonInvalidField},
		{kmip14.CryptographicAlgorithmDES3, 24, 0, 168, 0},
		{kmip14.CryptographicAlgorithmDES3, 24, 192, 192, 0},
		{kmip14.CryptographicAlgorithmDES3, 16, 112, 112, 0},
		{kmip14.CryptographicAlgorithmDES3, 16, 168, 0, kmip20.ResultReasonInvalidField},
		{kmip14.CryptographicAlgorithmDES, 8, 0, 56, 0},
		{kmip14.CryptographicAlgorithmSKIPJACK, 10, 80, 80, 0},
		{kmip14.CryptographicAlgorithmHMAC_SHA256, 64, 0, 512, 0},
		{kmip14.CryptographicAlgorithmHMAC_SHA256, 64, 256, 0, kmip20.ResultReasonInvalidField},
	} {
		got, err := symmetricLength(c.alg, c.n, c.given)
		assert.Equal(t, c.reason, reasonOf(err), "%s %d bytes, length %d: %v", c.alg, c.n, c.given, err)
		assert.Equal(t, c.want, got, "%s %d bytes, length %d", c.alg, c.n, c.given)
	}
}

func TestDSAFromTransparent(t *testing.T) {
	var k dsa.PrivateKey
	require.NoError(t, dsa.GenerateParameters(&k.Parameters, rand.Reader, dsa.L1024N160))
	require.NoError(t, dsa.GenerateKey(&k, rand.Reader))
	p, q, g := k.P, k.Q, k.G

	key, err := dsaFromTransparent(p, q, g, k.X, true)
	require.NoError(t, err)
	family, bits := keyFacts(key)
	assert.Equal(t, kmip14.CryptographicAlgorithmDSA, family)
	assert.Equal(t, int32(1024), bits)
	_, err = dsaFromTransparent(p, q, g, k.Y, false)
	require.NoError(t, err)

	for name, bad := range map[string][4]*big.Int{
		"X not below Q":    {p, q, g, q},
		"Y not in group":   {p, q, g, big.NewInt(2)},
		"G of wrong order": {p, q, big.NewInt(2), k.Y},
		"Q not dividing":   {p, new(big.Int).Add(q, big.NewInt(2)), g, k.X},
	} {
		_, err := dsaFromTransparent(bad[0], bad[1], bad[2], bad[3], name == "X not below Q" || name == "Q not dividing")
		assert.Equal(t, kmip20.ResultReasonInvalidField, reasonOf(err), name)
	}
	_, err = dsaFromTransparent(p, q, nil, k.X, true)
	assert.Equal(t, kmip20.ResultReasonMissingData, reasonOf(err))
}
