package ops_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// registerVersions are the versions the Register tests run in: the 1.x
// form (TemplateAttribute) and the 2.x form (Attributes).
var registerVersions = []message.Version{message.V1_4, message.V2_1}

// testMaterial is real key material made once for the tests: an RSA-2048
// pair, an EC P-256 pair and a self-signed X.509 certificate.
type testMaterial struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	cert *x509.Certificate
}

var materials = sync.OnceValue(func() testMaterial {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "register-test", Organization: []string{"kmip-adapter"}, Country: []string{"DE"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &r.PublicKey, r)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return testMaterial{rsa: r, ec: e, cert: c}
})

// materialItem encodes v as the Key Material item a client sends and the
// server returns: a Byte String for []byte, a structure otherwise.
func materialItem(t *testing.T, v any) ttlv.TTLV {
	t.Helper()
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	require.NoError(t, e.EncodeValue(kmip14.TagKeyMaterial, v))
	require.NoError(t, e.Flush())
	return buf.Bytes()
}

func keyObject(f kmip14.KeyFormatType, material any, alg kmip14.CryptographicAlgorithm, length int32) any {
	return struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
		KeyFormatType: f, KeyValue: kmiptest.KeyValue{KeyMaterial: material},
		CryptographicAlgorithm: alg, CryptographicLength: length,
	}}
}

// registerOK registers and returns the new Unique Identifier.
func registerOK(t *testing.T, x *server.Executor, v message.Version, payload any) string {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationRegister, payload)
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var id kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &id)
	require.NotEmpty(t, id.UniqueIdentifier)
	return id.UniqueIdentifier
}

// getObject runs Get and decodes a successful answer.
func getObject(t *testing.T, x *server.Executor, v message.Version, id string, f kmip14.KeyFormatType) kmiptest.GetResponse {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, f))
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "Get in %s: %s", f, it.ResultMessage)
	var got kmiptest.GetResponse
	kmiptest.Decode(t, it.ResponsePayload, &got)
	assert.Equal(t, id, got.UniqueIdentifier)
	return got
}

// keyForms are the forms of one key: every Key Format Type the server
// offers for it, with the material a client would send (and the server
// must return) in that format.
type keyForms struct {
	name   string
	t      kmip14.ObjectType
	alg    kmip14.CryptographicAlgorithm
	length int32
	forms  map[kmip14.KeyFormatType]any
}

func (m testMaterial) keyForms(t *testing.T) []keyForms {
	must := func(b []byte, err error) []byte {
		require.NoError(t, err)
		return b
	}
	r, e := m.rsa, m.ec
	d := must(e.Bytes())
	q := must(e.PublicKey.Bytes())
	type rsaPrivate struct {
		Modulus, PrivateExponent, PublicExponent, P, Q, PrimeExponentP, PrimeExponentQ, CRTCoefficient *big.Int
	}
	aes := []byte("0123456789abcdef0123456789abcdef")
	return []keyForms{
		{"AES", kmip14.ObjectTypeSymmetricKey, kmip14.CryptographicAlgorithmAES, 256, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypeRaw:                     aes,
			kmip14.KeyFormatTypeTransparentSymmetricKey: struct{ Key []byte }{aes},
		}},
		{"RSA private", kmip14.ObjectTypePrivateKey, kmip14.CryptographicAlgorithmRSA, 2048, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_1: x509.MarshalPKCS1PrivateKey(r),
			kmip14.KeyFormatTypePKCS_8: must(x509.MarshalPKCS8PrivateKey(r)),
			kmip14.KeyFormatTypeTransparentRSAPrivateKey: rsaPrivate{r.N, r.D, big.NewInt(int64(r.E)), r.Primes[0], r.Primes[1],
				r.Precomputed.Dp, r.Precomputed.Dq, r.Precomputed.Qinv},
		}},
		{"RSA public", kmip14.ObjectTypePublicKey, kmip14.CryptographicAlgorithmRSA, 2048, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_1:                  x509.MarshalPKCS1PublicKey(&r.PublicKey),
			kmip14.KeyFormatTypeX_509:                   must(x509.MarshalPKIXPublicKey(&r.PublicKey)),
			kmip14.KeyFormatTypeTransparentRSAPublicKey: struct{ Modulus, PublicExponent *big.Int }{r.N, big.NewInt(int64(r.E))},
		}},
		{"EC private", kmip14.ObjectTypePrivateKey, kmip14.CryptographicAlgorithmEC, 256, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypePKCS_8:       must(x509.MarshalPKCS8PrivateKey(e)),
			kmip14.KeyFormatTypeECPrivateKey: must(x509.MarshalECPrivateKey(e)),
			kmip14.KeyFormatTypeTransparentECPrivateKey: struct {
				RecommendedCurve kmip14.RecommendedCurve
				D                *big.Int
			}{kmip14.RecommendedCurveP_256, new(big.Int).SetBytes(d)},
		}},
		{"EC public", kmip14.ObjectTypePublicKey, kmip14.CryptographicAlgorithmEC, 256, map[kmip14.KeyFormatType]any{
			kmip14.KeyFormatTypeX_509: must(x509.MarshalPKIXPublicKey(&e.PublicKey)),
			kmip14.KeyFormatTypeTransparentECPublicKey: struct {
				RecommendedCurve kmip14.RecommendedCurve
				QString          []byte
			}{kmip14.RecommendedCurveP_256, q},
		}},
	}
}

// everyFormat is what the tests ask Get for besides a key's own formats.
var everyFormat = []kmip14.KeyFormatType{
	kmip14.KeyFormatTypeRaw, kmip14.KeyFormatTypeOpaque, kmip14.KeyFormatTypePKCS_1, kmip14.KeyFormatTypePKCS_8,
	kmip14.KeyFormatTypeX_509, kmip14.KeyFormatTypeECPrivateKey, kmip14.KeyFormatTypeTransparentSymmetricKey,
	kmip14.KeyFormatTypeTransparentDSAPrivateKey, kmip14.KeyFormatTypeTransparentDSAPublicKey,
	kmip14.KeyFormatTypeTransparentRSAPrivateKey, kmip14.KeyFormatTypeTransparentRSAPublicKey,
	kmip14.KeyFormatTypeTransparentECPrivateKey, kmip14.KeyFormatTypeTransparentECPublicKey, kmip14.KeyFormatTypePKCS_12,
}

// TestRegisterThenGetEveryKeyFormat registers each key in each of its
// formats, with and without Cryptographic Algorithm and Length (the server
// fills them in from the material), and gets it back: byte for byte as
// registered by default, converted in every other format it has, Key
// Format Type Not Supported in the rest. The Key Value never holds
// attributes.
func TestRegisterThenGetEveryKeyFormat(t *testing.T) {
	m := materials()
	x := kmiptest.NewExecutor(t)
	for _, v := range registerVersions {
		for _, k := range m.keyForms(t) {
			for registered, material := range k.forms {
				// Some are sent without Cryptographic Algorithm and Length.
				withParams := k.t == kmip14.ObjectTypeSymmetricKey || registered != kmip14.KeyFormatTypeX_509 && registered != kmip14.KeyFormatTypePKCS_8
				t.Run(v.String()+"/"+k.name+"/"+registered.String(), func(t *testing.T) {
					var alg kmip14.CryptographicAlgorithm
					var length int32
					if withParams {
						alg, length = k.alg, k.length
					}
					if k.t == kmip14.ObjectTypeSymmetricKey {
						alg = k.alg // the one thing symmetric material cannot tell
					}
					id := registerOK(t, x, v, kmiptest.Register(v, k.t, keyObject(registered, material, alg, length)))

					for _, f := range append([]kmip14.KeyFormatType{0}, everyFormat...) {
						want, offered := k.forms[f]
						if f == 0 {
							want, offered = material, true
						}
						if !offered {
							it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, f))
							assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus, "Get %s", f)
							assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, it.ResultReason, "Get %s: %s", f, it.ResultMessage)
							continue
						}
						got := getObject(t, x, v, id, f)
						assert.Equal(t, k.t, got.ObjectType)
						kb := got.KeyBlock()
						require.NotNil(t, kb, "a %s in the answer", k.t)
						wantFormat := f
						if f == 0 {
							wantFormat = registered
						}
						assert.Equal(t, wantFormat, kb.KeyFormatType)
						item, items := kb.Material()
						assert.Equal(t, 1, items, "the Key Value holds the Key Material only")
						assert.True(t, bytes.Equal(materialItem(t, want), item), "Get %s of a key registered as %s: the material differs", f, registered)
						assert.Equal(t, k.alg, kb.CryptographicAlgorithm)
						assert.Equal(t, k.length, kb.CryptographicLength)
					}
				})
			}
		}
	}
}

// TestRegisterKeepsTransparentMaterialByteForByte: a Transparent key is
// returned as the client encoded it, Big Integers padded beyond the
// minimum included (as the OASIS vectors send them), even when it is given
// in the CRT form without Modulus and Private Exponent; its conversions
// are right.
func TestRegisterKeepsTransparentMaterialByteForByte(t *testing.T) {
	r := materials().rsa
	padded := func(tag ttlv.Tag, v *big.Int) ttlv.TTLV {
		b := append(make([]byte, 8), v.FillBytes(make([]byte, (len(v.Bytes())+7)/8*8))...)
		item := make(ttlv.TTLV, 8, 8+len(b))
		item[0], item[1], item[2], item[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeBigInteger)
		item[4], item[5], item[6], item[7] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
		return append(item, b...)
	}
	var children []byte
	for _, c := range []struct {
		tag ttlv.Tag
		v   *big.Int
	}{
		{kmip14.TagPublicExponent, big.NewInt(int64(r.E))}, {kmip14.TagP, r.Primes[0]}, {kmip14.TagQ, r.Primes[1]},
		{kmip14.TagPrimeExponentP, r.Precomputed.Dp}, {kmip14.TagPrimeExponentQ, r.Precomputed.Dq}, {kmip14.TagCRTCoefficient, r.Precomputed.Qinv},
	} {
		children = append(children, padded(c.tag, c.v)...)
	}
	item := make(ttlv.TTLV, 8, 8+len(children))
	tag := kmip14.TagKeyMaterial
	item[0], item[1], item[2], item[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeStructure)
	item[4], item[5], item[6], item[7] = byte(len(children)>>24), byte(len(children)>>16), byte(len(children)>>8), byte(len(children))
	item = append(item, children...)

	x := kmiptest.NewExecutor(t)
	for _, v := range registerVersions {
		id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypePrivateKey,
			keyObject(kmip14.KeyFormatTypeTransparentRSAPrivateKey, item, kmip14.CryptographicAlgorithmRSA, 2048)))
		got, _ := getObject(t, x, v, id, 0).KeyBlock().Material()
		assert.Equal(t, item, got, "byte for byte as registered")
		got, _ = getObject(t, x, v, id, kmip14.KeyFormatTypePKCS_1).KeyBlock().Material()
		assert.True(t, bytes.Equal(materialItem(t, x509.MarshalPKCS1PrivateKey(r)), got), "the same key in PKCS#1")
	}
}

// TestRegisterSecretDataOpaqueObjectCertificate covers the objects that
// are not keys: Secret Data as SASED registers it (a Password in Opaque
// format, and a Seed in Raw), an Opaque Object with a vendor data type
// (OMOS), an X.509 certificate. Each comes back as registered, in its own
// format only.
func TestRegisterSecretDataOpaqueObjectCertificate(t *testing.T) {
	cert := materials().cert
	x := kmiptest.NewExecutor(t)
	for _, v := range registerVersions {
		t.Run(v.String(), func(t *testing.T) {
			for _, c := range []struct {
				dataType kmip14.SecretDataType
				format   kmip14.KeyFormatType
				other    kmip14.KeyFormatType
			}{
				{kmip14.SecretDataTypePassword, kmip14.KeyFormatTypeOpaque, kmip14.KeyFormatTypeRaw},
				{kmip14.SecretDataTypeSeed, kmip14.KeyFormatTypeRaw, kmip14.KeyFormatTypeOpaque},
			} {
				secret := []byte("****************" + c.dataType.String())
				id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeSecretData, struct {
					SecretDataType kmip14.SecretDataType
					KeyBlock       kmiptest.KeyBlock
				}{c.dataType, kmiptest.KeyBlock{KeyFormatType: c.format, KeyValue: kmiptest.KeyValue{KeyMaterial: secret}}},
					kmiptest.Attr1{AttributeName: "Object Group", AttributeValue: "SASED"}, kmiptest.Attr1{AttributeName: "x-ID", AttributeValue: "secret"}))
				for _, f := range []kmip14.KeyFormatType{0, c.format} {
					got := getObject(t, x, v, id, f)
					assert.Equal(t, kmip14.ObjectTypeSecretData, got.ObjectType)
					require.NotNil(t, got.SecretData)
					assert.Equal(t, c.dataType, got.SecretData.SecretDataType)
					assert.Equal(t, c.format, got.SecretData.KeyBlock.KeyFormatType)
					item, items := got.SecretData.KeyBlock.Material()
					assert.Equal(t, 1, items)
					assert.Equal(t, secret, item.ValueByteString())
					assert.Zero(t, got.SecretData.KeyBlock.CryptographicAlgorithm)
				}
				it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, c.other))
				assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, it.ResultReason, it.ResultMessage)
			}

			opaque := []byte("SecretPassword")
			id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeOpaqueObject, struct {
				OpaqueDataType  kmip14.OpaqueDataType
				OpaqueDataValue []byte
			}{0x80000001, opaque}, kmiptest.Attr1{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: "OMOS-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}}))
			got := getObject(t, x, v, id, 0)
			assert.Equal(t, kmip14.ObjectTypeOpaqueObject, got.ObjectType)
			require.NotNil(t, got.OpaqueObject)
			assert.Equal(t, kmip14.OpaqueDataType(0x80000001), got.OpaqueObject.OpaqueDataType)
			assert.Equal(t, opaque, got.OpaqueObject.OpaqueDataValue)
			it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, kmip14.KeyFormatTypeRaw))
			assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, it.ResultReason)

			id = registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeCertificate, struct {
				CertificateType  kmip14.CertificateType
				CertificateValue []byte
			}{kmip14.CertificateTypeX_509, cert.Raw}, kmiptest.Attr1{AttributeName: "Certificate Type", AttributeValue: kmip14.CertificateTypeX_509}))
			for _, f := range []kmip14.KeyFormatType{0, kmip14.KeyFormatTypeX_509} {
				got = getObject(t, x, v, id, f)
				assert.Equal(t, kmip14.ObjectTypeCertificate, got.ObjectType)
				require.NotNil(t, got.Certificate)
				assert.Equal(t, kmip14.CertificateTypeX_509, got.Certificate.CertificateType)
				assert.Equal(t, cert.Raw, got.Certificate.CertificateValue)
			}
			it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, kmip14.KeyFormatTypePKCS_1))
			assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, it.ResultReason)
		})
	}
}

// attributes1 reads attributes through a 1.4 Get Attributes.
func attributes1(t *testing.T, x *server.Executor, id string, names ...string) map[string][]ttlv.TTLV {
	t.Helper()
	it := kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationGetAttributes, struct {
		UniqueIdentifier string
		AttributeName    []string
	}{id, names})
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var got struct {
		Attribute []struct {
			AttributeName  string
			AttributeValue ttlv.TTLV
		}
	}
	kmiptest.Decode(t, it.ResponsePayload, &got)
	out := map[string][]ttlv.TTLV{}
	for _, a := range got.Attribute {
		out[a.AttributeName] = append(out[a.AttributeName], a.AttributeValue)
	}
	return out
}

type digest struct {
	HashingAlgorithm kmip14.HashingAlgorithm
	DigestValue      []byte
	KeyFormatType    kmip14.KeyFormatType
}

// TestRegisterServerAttributes: the Digest is the SHA-256 of the material
// as registered (of the Key Material item for a Transparent format); a
// certificate gets its type, length, key algorithm and length, subject and
// issuer from the certificate; the Cryptographic Algorithm and Length of a
// key are filled in from its material.
func TestRegisterServerAttributes(t *testing.T) {
	m := materials()
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	der := x509.MarshalPKCS1PrivateKey(m.rsa)
	id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypePrivateKey, keyObject(kmip14.KeyFormatTypePKCS_1, der, 0, 0)))
	got := attributes1(t, x, id, "Digest", "Cryptographic Algorithm", "Cryptographic Length")
	require.Len(t, got["Digest"], 1)
	var d digest
	kmiptest.Decode(t, got["Digest"][0], &d)
	sum := sha256.Sum256(der)
	assert.Equal(t, digest{kmip14.HashingAlgorithmSHA_256, sum[:], kmip14.KeyFormatTypePKCS_1}, d)
	require.Len(t, got["Cryptographic Algorithm"], 1)
	assert.Equal(t, ttlv.EnumValue(kmip14.CryptographicAlgorithmRSA), got["Cryptographic Algorithm"][0].ValueEnumeration())
	assert.Equal(t, int32(2048), got["Cryptographic Length"][0].ValueInteger())

	key := struct{ Key []byte }{[]byte("0123456789abcdef")}
	id = registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, keyObject(kmip14.KeyFormatTypeTransparentSymmetricKey, key, kmip14.CryptographicAlgorithmAES, 0)))
	got = attributes1(t, x, id, "Digest", "Cryptographic Length")
	kmiptest.Decode(t, got["Digest"][0], &d)
	sum = sha256.Sum256(materialItem(t, key))
	assert.Equal(t, digest{kmip14.HashingAlgorithmSHA_256, sum[:], kmip14.KeyFormatTypeTransparentSymmetricKey}, d)
	assert.Equal(t, int32(128), got["Cryptographic Length"][0].ValueInteger())

	id = registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeCertificate, struct {
		CertificateType  kmip14.CertificateType
		CertificateValue []byte
	}{kmip14.CertificateTypeX_509, m.cert.Raw}))
	got = attributes1(t, x, id, "Certificate Type", "Certificate Length", "Cryptographic Algorithm", "Cryptographic Length",
		"Digital Signature Algorithm", "X.509 Certificate Subject", "X.509 Certificate Issuer", "Digest")
	assert.Equal(t, ttlv.EnumValue(kmip14.CertificateTypeX_509), got["Certificate Type"][0].ValueEnumeration())
	assert.Equal(t, int32(len(m.cert.Raw)), got["Certificate Length"][0].ValueInteger())
	assert.Equal(t, ttlv.EnumValue(kmip14.CryptographicAlgorithmRSA), got["Cryptographic Algorithm"][0].ValueEnumeration())
	assert.Equal(t, int32(2048), got["Cryptographic Length"][0].ValueInteger())
	assert.Equal(t, ttlv.EnumValue(kmip14.DigitalSignatureAlgorithmSHA_256WithRSAEncryption), got["Digital Signature Algorithm"][0].ValueEnumeration())
	var subject struct{ SubjectDistinguishedName []byte }
	require.Len(t, got["X.509 Certificate Subject"], 1)
	kmiptest.Decode(t, got["X.509 Certificate Subject"][0], &subject)
	assert.Equal(t, m.cert.RawSubject, subject.SubjectDistinguishedName)
	require.Len(t, got["Digest"], 1)
	kmiptest.Decode(t, got["Digest"][0], &d)
	sum = sha256.Sum256(m.cert.Raw)
	assert.Equal(t, sum[:], d.DigestValue)

	// 2.x: the subject's parts (BL-M-10 asks for the CN and the length).
	it := kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationGetAttributes, struct {
		UniqueIdentifier   string
		AttributeReference []ttlv.TTLV
	}{id, []ttlv.TTLV{reference(kmip14.TagCertificateSubjectCN), reference(kmip14.TagCertificateSubjectO), reference(kmip14.TagCertificateLength)}})
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var attrs2 struct {
		Attributes struct {
			CertificateSubjectCN string
			CertificateSubjectO  string
			CertificateLength    int32
		}
	}
	kmiptest.Decode(t, it.ResponsePayload, &attrs2)
	assert.Equal(t, "register-test", attrs2.Attributes.CertificateSubjectCN)
	assert.Equal(t, "kmip-adapter", attrs2.Attributes.CertificateSubjectO)
	assert.Equal(t, int32(len(m.cert.Raw)), attrs2.Attributes.CertificateLength)
}

// reference is a 2.x Attribute Reference to a standard attribute.
func reference(tag ttlv.Tag) ttlv.TTLV {
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	e.EncodeEnumeration(kmip20.TagAttributeReference, uint32(tag))
	_ = e.Flush()
	return buf.Bytes()
}

// TestRegisterRefuses: what does not fit is refused with the Result
// Reason of the specification (its 1.x fallback for 1.x clients).
func TestRegisterRefuses(t *testing.T) {
	m := materials()
	aes := keyObject(kmip14.KeyFormatTypeRaw, []byte("0123456789abcdef"), kmip14.CryptographicAlgorithmAES, 128)
	wrapped := struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
		KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: kmiptest.KeyValue{KeyMaterial: []byte("0123456789abcdef")},
		CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: 128,
		KeyWrappingData: struct{ WrappingMethod kmip14.WrappingMethod }{kmip14.WrappingMethodEncrypt},
	}}
	withAttribute := struct {
		KeyBlock struct {
			KeyFormatType kmip14.KeyFormatType
			KeyValue      struct {
				KeyMaterial []byte
				Attribute   kmiptest.Attr1
			}
			CryptographicAlgorithm kmip14.CryptographicAlgorithm
		}
	}{}
	withAttribute.KeyBlock.KeyFormatType = kmip14.KeyFormatTypeRaw
	withAttribute.KeyBlock.KeyValue.KeyMaterial = []byte("0123456789abcdef")
	withAttribute.KeyBlock.KeyValue.Attribute = kmiptest.Attr1{AttributeName: "x-ID", AttributeValue: "inside"}
	withAttribute.KeyBlock.CryptographicAlgorithm = kmip14.CryptographicAlgorithmAES
	certificate := func(ct kmip14.CertificateType, der []byte) any {
		return struct {
			CertificateType  kmip14.CertificateType
			CertificateValue []byte
		}{ct, der}
	}
	rsaDER := x509.MarshalPKCS1PrivateKey(m.rsa)
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(m.ec)
	require.NoError(t, err)

	for _, c := range []struct {
		name    string
		payload func(v message.Version) any
		reason  kmip20.ResultReason
	}{
		{"object type and object differ", func(v message.Version) any {
			return kmiptest.RegisterAs(v, kmip14.ObjectTypeSymmetricKey, kmip14.ObjectTypeSecretData, aes)
		}, kmip20.ResultReasonInvalidField},
		{"no object", func(v message.Version) any {
			return struct{ ObjectType kmip14.ObjectType }{kmip14.ObjectTypeSymmetricKey}
		}, kmip20.ResultReasonMissingData},
		{"split key", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSplitKey, aes)
		}, kmip20.ResultReasonFeatureNotSupported},
		{"wrapped key naming no wrapping key", func(v message.Version) any { return kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, wrapped) }, kmip20.ResultReasonMissingData},
		{"attributes in the Key Value", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, withAttribute)
		}, kmip20.ResultReasonFeatureNotSupported},
		{"AES length differs from the material", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, keyObject(kmip14.KeyFormatTypeRaw, []byte("0123456789abcdef"), kmip14.CryptographicAlgorithmAES, 256))
		}, kmip20.ResultReasonInvalidField},
		{"Key Block and attributes differ", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, aes, kmiptest.Attr1{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmDES3})
		}, kmip20.ResultReasonInvalidField},
		{"symmetric key without algorithm", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, keyObject(kmip14.KeyFormatTypeRaw, []byte("0123456789abcdef"), 0, 0))
		}, kmip20.ResultReasonMissingData},
		{"RSA material called EC", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypePrivateKey, keyObject(kmip14.KeyFormatTypePKCS_1, rsaDER, kmip14.CryptographicAlgorithmECDSA, 0))
		}, kmip20.ResultReasonInvalidField},
		{"RSA length wrong", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypePrivateKey, keyObject(kmip14.KeyFormatTypePKCS_1, rsaDER, kmip14.CryptographicAlgorithmRSA, 4096))
		}, kmip20.ResultReasonInvalidField},
		{"EC key in PKCS#1", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypePrivateKey, keyObject(kmip14.KeyFormatTypePKCS_1, ecPKCS8, 0, 0))
		}, kmip20.ResultReasonInvalidField},
		{"private key format for a public key", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypePublicKey, keyObject(kmip14.KeyFormatTypePKCS_8, ecPKCS8, 0, 0))
		}, kmip20.ResultReasonKeyFormatTypeNotSupported},
		{"no Key Format Type", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, keyObject(0, []byte("0123456789abcdef"), kmip14.CryptographicAlgorithmAES, 0))
		}, kmip20.ResultReasonMissingData},
		{"Secret Data in PKCS#1", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSecretData, struct {
				SecretDataType kmip14.SecretDataType
				KeyBlock       kmiptest.KeyBlock
			}{kmip14.SecretDataTypePassword, kmiptest.KeyBlock{KeyFormatType: kmip14.KeyFormatTypePKCS_1, KeyValue: kmiptest.KeyValue{KeyMaterial: rsaDER}}})
		}, kmip20.ResultReasonKeyFormatTypeNotSupported},
		{"Secret Data without its type", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeSecretData, struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{KeyFormatType: kmip14.KeyFormatTypeOpaque, KeyValue: kmiptest.KeyValue{KeyMaterial: []byte("pw")}}})
		}, kmip20.ResultReasonMissingData},
		{"not a certificate", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeCertificate, certificate(kmip14.CertificateTypeX_509, []byte("not DER")))
		}, kmip20.ResultReasonInvalidField},
		{"PGP certificate", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeCertificate, certificate(kmip14.CertificateTypePGP, m.cert.Raw))
		}, kmip20.ResultReasonFeatureNotSupported},
		{"certificate attribute that does not match", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeCertificate, certificate(kmip14.CertificateTypeX_509, m.cert.Raw), kmiptest.Attr1{AttributeName: "Certificate Length", AttributeValue: int32(5)})
		}, kmip20.ResultReasonInvalidField},
		{"Transparent RSA key whose modulus is not P×Q", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypePrivateKey, keyObject(kmip14.KeyFormatTypeTransparentRSAPrivateKey, struct {
				Modulus, PublicExponent, P, Q *big.Int
			}{new(big.Int).Add(m.rsa.N, big.NewInt(2)), big.NewInt(65537), m.rsa.Primes[0], m.rsa.Primes[1]}, 0, 0))
		}, kmip20.ResultReasonInvalidField},
		{"Opaque Object without its type", func(v message.Version) any {
			return kmiptest.Register(v, kmip14.ObjectTypeOpaqueObject, struct{ OpaqueDataValue []byte }{[]byte("x")})
		}, kmip20.ResultReasonMissingData},
	} {
		for _, v := range registerVersions {
			t.Run(v.String()+"/"+c.name, func(t *testing.T) {
				x := kmiptest.NewExecutor(t)
				it := kmiptest.Exec1(t, x, v, kmip20.OperationRegister, c.payload(v))
				assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
				assert.Equal(t, message.ReasonFor(v, c.reason), it.ResultReason, it.ResultMessage)
			})
		}
	}
}

// TestRegisterTemplate follows SASED-M-2 in KMIP 1.x: a Template is
// registered with its name; an object that names it in its
// Template-Attribute gets its attributes, its own attributes first; Get
// returns the template's attributes. 2.x has no templates.
func TestRegisterTemplate(t *testing.T) {
	for _, v := range []message.Version{message.V1_0, message.V1_4} {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			name := kmiptest.Name{NameValue: "template-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}
			content := []kmiptest.Attr1{
				{AttributeName: "Object Group", AttributeValue: "SASED-group"},
				{AttributeName: "x-CustomAttribute1", AttributeValue: "CustomValue1"},
				{AttributeName: "x-CustomAttribute2", AttributeValue: "CustomValue2"},
			}
			tid := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeTemplate,
				struct{ Attribute []kmiptest.Attr1 }{content}, kmiptest.Attr1{AttributeName: "Name", AttributeValue: name}))

			got := getObject(t, x, v, tid, 0)
			assert.Equal(t, kmip14.ObjectTypeTemplate, got.ObjectType)
			var tmpl struct {
				Attribute []struct {
					AttributeName  string
					AttributeValue string
				}
			}
			kmiptest.Decode(t, got.Template, &tmpl)
			require.Len(t, tmpl.Attribute, 3)
			for i, a := range tmpl.Attribute {
				assert.Equal(t, content[i].AttributeName, a.AttributeName)
				assert.Equal(t, content[i].AttributeValue, a.AttributeValue)
			}

			secret := struct {
				SecretDataType kmip14.SecretDataType
				KeyBlock       kmiptest.KeyBlock
			}{kmip14.SecretDataTypePassword, kmiptest.KeyBlock{KeyFormatType: kmip14.KeyFormatTypeOpaque, KeyValue: kmiptest.KeyValue{KeyMaterial: []byte("********")}}}
			usingTemplate := func(ref string, own ...kmiptest.Attr1) any {
				return struct {
					ObjectType        kmip14.ObjectType
					TemplateAttribute struct {
						Name      kmiptest.Name
						Attribute []kmiptest.Attr1
					}
					SecretData any
				}{kmip14.ObjectTypeSecretData, struct {
					Name      kmiptest.Name
					Attribute []kmiptest.Attr1
				}{kmiptest.Name{NameValue: ref, NameType: kmip14.NameTypeUninterpretedTextString}, own}, secret}
			}
			own := kmiptest.Name{NameValue: "secret-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}
			sid := registerOK(t, x, v, usingTemplate(name.NameValue,
				kmiptest.Attr1{AttributeName: "x-CustomAttribute2", AttributeValue: "mine"},
				kmiptest.Attr1{AttributeName: "Name", AttributeValue: own}))
			attrs := attributes1(t, x, sid, "Object Group", "x-CustomAttribute1", "x-CustomAttribute2", "Name")
			assert.Equal(t, []string{"SASED-group"}, texts(attrs["Object Group"]))
			assert.Equal(t, []string{"CustomValue1"}, texts(attrs["x-CustomAttribute1"]))
			assert.Equal(t, []string{"mine"}, texts(attrs["x-CustomAttribute2"]), "the request's own attribute wins")
			require.Len(t, attrs["Name"], 1, "the template's name is not passed on")
			var n kmiptest.Name
			kmiptest.Decode(t, attrs["Name"][0], &n)
			assert.Equal(t, own, n)

			it := kmiptest.Exec1(t, x, v, kmip20.OperationRegister, usingTemplate("no-such-template"))
			assert.Equal(t, kmip20.ResultReasonItemNotFound, it.ResultReason, it.ResultMessage)

			// A 2.x client can neither register nor get a template.
			it = kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationGet, kmiptest.Get(tid, 0))
			assert.Equal(t, kmip20.ResultReasonInvalidObjectType, it.ResultReason, it.ResultMessage)
			it = kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationRegister, kmiptest.Register(message.V2_1, kmip14.ObjectTypeTemplate, struct{ Attribute []kmiptest.Attr1 }{content}))
			assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason, it.ResultMessage)
		})
	}
}

func texts(values []ttlv.TTLV) []string {
	var out []string
	for _, v := range values {
		out = append(out, v.ValueTextString())
	}
	return out
}

// TestRegisterSetsThePlaceholder: a Get without Unique Identifier after a
// Register in the same batch acts on the registered object.
func TestRegisterSetsThePlaceholder(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range registerVersions {
		material := []byte("fedcba9876543210")
		r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v,
			kmiptest.Item{Operation: kmip20.OperationRegister, RequestPayload: kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey,
				keyObject(kmip14.KeyFormatTypeRaw, material, kmip14.CryptographicAlgorithmAES, 0))},
			kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: struct{}{}},
		))
		require.Len(t, r.BatchItem, 2)
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus, r.BatchItem[1].ResultMessage)
		var got kmiptest.GetResponse
		kmiptest.Decode(t, r.BatchItem[1].ResponsePayload, &got)
		item, _ := got.KeyBlock().Material()
		assert.Equal(t, material, item.ValueByteString())
	}
}

// TestQueryListsTheManagedObjectTypes: Query lists exactly the object
// types Register takes, Template only to 1.x clients.
func TestQueryListsTheManagedObjectTypes(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range message.Supported {
		it := kmiptest.Exec1(t, x, v, kmip20.OperationQuery, struct{ QueryFunction []kmip14.QueryFunction }{[]kmip14.QueryFunction{kmip14.QueryFunctionQueryObjects}})
		require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
		var got struct{ ObjectType []kmip14.ObjectType }
		kmiptest.Decode(t, it.ResponsePayload, &got)
		want := []kmip14.ObjectType{kmip14.ObjectTypeCertificate, kmip14.ObjectTypeSymmetricKey, kmip14.ObjectTypePublicKey,
			kmip14.ObjectTypePrivateKey, kmip14.ObjectTypeTemplate, kmip14.ObjectTypeSecretData, kmip14.ObjectTypeOpaqueObject}
		if v.AtLeast(message.V2_0) {
			want = append(want[:4:4], kmip14.ObjectTypeSecretData, kmip14.ObjectTypeOpaqueObject)
		}
		assert.Equal(t, want, got.ObjectType, v.String())
	}
}
