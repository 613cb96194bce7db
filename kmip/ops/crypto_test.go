package ops_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/internal/secp256k1"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// registerKey registers key material as an Active key of version v with
// the usage mask and extra attributes, and returns its identifier.
func registerKey(t *testing.T, x *server.Executor, v message.Version, ot kmip14.ObjectType, f kmip14.KeyFormatType, alg kmip14.CryptographicAlgorithm, length int32, material []byte, mask kmip14.CryptographicUsageMask, extra ...kmiptest.Attr1) string {
	t.Helper()
	attrs := append([]kmiptest.Attr1{
		{AttributeName: "Cryptographic Usage Mask", AttributeValue: mask},
		{AttributeName: "Activation Date", AttributeValue: time.Now().Add(-time.Hour)},
	}, extra...)
	obj := struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
		KeyFormatType: f, KeyValue: kmiptest.KeyValue{KeyMaterial: material},
		CryptographicAlgorithm: alg, CryptographicLength: length,
	}}
	it := kmiptest.Exec1(t, x, v, kmip20.OperationRegister, kmiptest.Register(v, ot, obj, attrs...))
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var id kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &id)
	return id.UniqueIdentifier
}

type params struct {
	BlockCipherMode  kmip14.BlockCipherMode  `ttlv:",omitempty"`
	PaddingMethod    kmip14.PaddingMethod    `ttlv:",omitempty"`
	HashingAlgorithm kmip14.HashingAlgorithm `ttlv:",omitempty"`
	TagLength        int32                   `ttlv:",omitempty"`
}

type cryptoReq struct {
	UniqueIdentifier                      string  `ttlv:",omitempty"`
	CryptographicParameters               *params `ttlv:",omitempty"`
	Data                                  []byte  `ttlv:",omitempty"`
	IVCounterNonce                        []byte  `ttlv:",omitempty"`
	CorrelationValue                      []byte  `ttlv:",omitempty"`
	InitIndicator                         bool    `ttlv:",omitempty"`
	FinalIndicator                        bool    `ttlv:",omitempty"`
	AuthenticatedEncryptionAdditionalData []byte  `ttlv:",omitempty"`
	AuthenticatedEncryptionTag            []byte  `ttlv:",omitempty"`
	SignatureData                         []byte  `ttlv:",omitempty"`
	MACData                               []byte  `ttlv:"MACData,omitempty"`
	DataLength                            int32   `ttlv:",omitempty"`
}

type cryptoResp struct {
	UniqueIdentifier           string
	Data                       []byte
	IVCounterNonce             []byte
	CorrelationValue           []byte
	AuthenticatedEncryptionTag []byte
	SignatureData              []byte
	MACData                    []byte `ttlv:"MACData"`
	ValidityIndicator          kmip14.ValidityIndicator
	DataLength                 int32
}

// call runs op and returns its result and decoded payload.
func call(t *testing.T, x *server.Executor, v message.Version, op kmip20.Operation, req cryptoReq) (kmiptest.ResponseItem, cryptoResp) {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, op, req)
	var out cryptoResp
	if it.ResultStatus == kmip14.ResultStatusSuccess {
		kmiptest.Decode(t, it.ResponsePayload, &out)
	}
	return it, out
}

func ok(t *testing.T, it kmiptest.ResponseItem) {
	t.Helper()
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", it.ResultReason, it.ResultMessage)
}

var aesKey = []byte("0123456789abcdef")

func TestEncryptDecryptSymmetric(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_2, message.V1_4, message.V2_0, message.V2_1} {
		t.Run(v.String(), func(t *testing.T) {
			id := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, aesKey,
				kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt)
			data := []byte("some data that is not a whole number of blocks")
			for _, p := range []params{
				{BlockCipherMode: kmip14.BlockCipherModeCBC, PaddingMethod: kmip14.PaddingMethodPKCS5},
				{BlockCipherMode: kmip14.BlockCipherModeECB, PaddingMethod: kmip14.PaddingMethodPKCS5},
				{BlockCipherMode: kmip14.BlockCipherModeCTR},
				{BlockCipherMode: kmip14.BlockCipherModeGCM, TagLength: 16},
				{BlockCipherMode: kmip14.BlockCipherModeAESKeyWrapPadding},
			} {
				if p.BlockCipherMode == kmip14.BlockCipherModeGCM && !v.AtLeast(message.V1_4) {
					continue // no tag before 1.4 (TestEncryptRefusals)
				}
				it, enc := call(t, x, v, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, CryptographicParameters: &p, Data: data})
				ok(t, it)
				assert.NotEqual(t, data, enc.Data)
				it, dec := call(t, x, v, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: id, CryptographicParameters: &p, Data: enc.Data,
					IVCounterNonce: enc.IVCounterNonce, AuthenticatedEncryptionTag: enc.AuthenticatedEncryptionTag})
				ok(t, it)
				assert.Equal(t, data, dec.Data, "%s", p.BlockCipherMode)
			}
		})
	}
}

// TestEncryptRefusals checks the Result Reasons: usage mask, state (per
// version: Wrong Key Lifecycle State from 2.1, Permission Denied before),
// missing mode, missing IV on decryption, and a key that is not one.
func TestEncryptRefusals(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	ecb := &params{BlockCipherMode: kmip14.BlockCipherModeECB}
	decryptOnly := registerKey(t, x, message.V2_1, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, aesKey, kmip14.CryptographicUsageMaskDecrypt)
	it, _ := call(t, x, message.V2_1, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: decryptOnly, CryptographicParameters: ecb, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonIncompatibleCryptographicUsageMask, it.ResultReason)
	it, _ = call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: decryptOnly, CryptographicParameters: ecb, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, it.ResultReason)

	preActive := kmiptest.NewAESKey(t, x, message.V2_1)
	for _, tt := range []struct {
		v    message.Version
		want kmip20.ResultReason
	}{{message.V2_1, kmip20.ResultReasonWrongKeyLifecycleState}, {message.V2_0, kmip20.ResultReasonPermissionDenied}, {message.V1_4, kmip20.ResultReasonPermissionDenied}} {
		it, _ = call(t, x, tt.v, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: preActive, CryptographicParameters: ecb, Data: aesKey})
		assert.Equal(t, tt.want, it.ResultReason, tt.v.String())
	}

	both := registerKey(t, x, message.V2_1, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, aesKey, kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt)
	it, _ = call(t, x, message.V2_1, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: both, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason, "no Block Cipher Mode anywhere")
	it, _ = call(t, x, message.V2_1, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: both, CryptographicParameters: &params{BlockCipherMode: kmip14.BlockCipherModeCBC}, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonInvalidMessage, it.ResultReason, "CBC decryption without its IV")
	it, _ = call(t, x, message.V2_1, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: both, CryptographicParameters: &params{BlockCipherMode: kmip14.BlockCipherModeGCM}, Data: aesKey,
		IVCounterNonce: make([]byte, 12), AuthenticatedEncryptionTag: make([]byte, 16)})
	assert.Equal(t, kmip20.ResultReasonCryptographicFailure, it.ResultReason, "a wrong GCM tag")
	it, _ = call(t, x, message.V1_2, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: both, CryptographicParameters: &params{BlockCipherMode: kmip14.BlockCipherModeGCM}, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason, "GCM before 1.4 has no tag to answer")

	// A revoked (Deactivated) key still decrypts but no longer encrypts.
	revoke := struct {
		UniqueIdentifier string
		RevocationReason struct{ RevocationReasonCode kmip14.RevocationReasonCode }
	}{UniqueIdentifier: both}
	revoke.RevocationReason.RevocationReasonCode = kmip14.RevocationReasonCodeCessationOfOperation
	ok(t, kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationRevoke, revoke))
	it, _ = call(t, x, message.V2_1, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: both, CryptographicParameters: ecb, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonWrongKeyLifecycleState, it.ResultReason)
	it, _ = call(t, x, message.V2_1, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: both, CryptographicParameters: ecb, Data: aesKey})
	ok(t, it)
}

// TestEncryptMultiPart runs a GCM encryption in three parts and decrypts
// the result in one.
func TestEncryptMultiPart(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	id := registerKey(t, x, message.V1_4, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, aesKey, kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt)
	gcm := &params{BlockCipherMode: kmip14.BlockCipherModeGCM, TagLength: 16}
	iv := make([]byte, 12)
	it, first := call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, CryptographicParameters: gcm, Data: []byte("first part, "), IVCounterNonce: iv, InitIndicator: true, AuthenticatedEncryptionAdditionalData: []byte("aad")})
	ok(t, it)
	require.NotEmpty(t, first.CorrelationValue)
	it, second := call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, Data: []byte("second, "), CorrelationValue: first.CorrelationValue})
	ok(t, it)
	it, last := call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, Data: []byte("last"), CorrelationValue: second.CorrelationValue, FinalIndicator: true})
	ok(t, it)
	require.Len(t, last.AuthenticatedEncryptionTag, 16)
	assert.Empty(t, last.CorrelationValue)

	ct := append(append(append([]byte(nil), first.Data...), second.Data...), last.Data...)
	it, dec := call(t, x, message.V1_4, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: id, CryptographicParameters: gcm, Data: ct, IVCounterNonce: iv,
		AuthenticatedEncryptionAdditionalData: []byte("aad"), AuthenticatedEncryptionTag: last.AuthenticatedEncryptionTag})
	ok(t, it)
	assert.Equal(t, "first part, second, last", string(dec.Data))

	it, _ = call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, Data: []byte("x"), CorrelationValue: first.CorrelationValue, FinalIndicator: true})
	assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason, "a Correlation Value is used once")
}

func TestSignVerify(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)
	ecPub, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	require.NoError(t, err)
	k1Key, err := secp256k1.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k1DER, err := secp256k1.MarshalECPrivateKey(k1Key)
	require.NoError(t, err)
	k1Pub, err := secp256k1.MarshalPKIXPublicKey(k1Key.Public())
	require.NoError(t, err)
	v := message.V2_0
	tests := []struct {
		name       string
		priv, pub  string
		p          *params
		verifyWith func(sig []byte) error
	}{
		{"RSA PSS", registerKey(t, x, v, kmip14.ObjectTypePrivateKey, kmip14.KeyFormatTypePKCS_1, kmip14.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PrivateKey(rsaKey), kmip14.CryptographicUsageMaskSign),
			registerKey(t, x, v, kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypePKCS_1, kmip14.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey), kmip14.CryptographicUsageMaskVerify),
			&params{PaddingMethod: kmip14.PaddingMethodPSS, HashingAlgorithm: kmip14.HashingAlgorithmSHA_256},
			func(sig []byte) error {
				d := sha256.Sum256([]byte("message"))
				return rsa.VerifyPSS(&rsaKey.PublicKey, 5, d[:], sig, nil)
			}},
		{"RSA PKCS1 v1.5", "", "", &params{PaddingMethod: kmip14.PaddingMethodPKCS1V1_5, HashingAlgorithm: kmip14.HashingAlgorithmSHA_256},
			func(sig []byte) error {
				d := sha256.Sum256([]byte("message"))
				return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, 5, d[:], sig)
			}},
		{"ECDSA P-256", registerKey(t, x, v, kmip14.ObjectTypePrivateKey, kmip14.KeyFormatTypeECPrivateKey, kmip14.CryptographicAlgorithmEC, 256, ecDER, kmip14.CryptographicUsageMaskSign),
			registerKey(t, x, v, kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeX_509, kmip14.CryptographicAlgorithmEC, 256, ecPub, kmip14.CryptographicUsageMaskVerify),
			nil,
			func(sig []byte) error {
				d := sha256.Sum256([]byte("message"))
				if !ecdsa.VerifyASN1(&ecKey.PublicKey, d[:], sig) {
					return assert.AnError
				}
				return nil
			}},
		{"ECDSA secp256k1", registerKey(t, x, v, kmip14.ObjectTypePrivateKey, kmip14.KeyFormatTypeECPrivateKey, kmip14.CryptographicAlgorithmEC, 256, k1DER, kmip14.CryptographicUsageMaskSign),
			registerKey(t, x, v, kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeX_509, kmip14.CryptographicAlgorithmEC, 256, k1Pub, kmip14.CryptographicUsageMaskVerify),
			&params{HashingAlgorithm: kmip14.HashingAlgorithmSHA_256},
			func(sig []byte) error {
				d := sha256.Sum256([]byte("message"))
				if !secp256k1.VerifyASN1(k1Key.Public(), d[:], sig) {
					return assert.AnError
				}
				return nil
			}},
	}
	tests[1].priv, tests[1].pub = tests[0].priv, tests[0].pub
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, signed := call(t, x, v, kmip20.OperationSign, cryptoReq{UniqueIdentifier: tt.priv, CryptographicParameters: tt.p, Data: []byte("message")})
			ok(t, it)
			require.NoError(t, tt.verifyWith(signed.SignatureData), "Go verifies the server's signature")
			it, got := call(t, x, v, kmip20.OperationSignatureVerify, cryptoReq{UniqueIdentifier: tt.pub, CryptographicParameters: tt.p, Data: []byte("message"), SignatureData: signed.SignatureData})
			ok(t, it)
			assert.Equal(t, kmip14.ValidityIndicatorValid, got.ValidityIndicator)
			it, got = call(t, x, v, kmip20.OperationSignatureVerify, cryptoReq{UniqueIdentifier: tt.pub, CryptographicParameters: tt.p, Data: []byte("massage"), SignatureData: signed.SignatureData})
			ok(t, it)
			assert.Equal(t, kmip14.ValidityIndicatorInvalid, got.ValidityIndicator)
			it, _ = call(t, x, v, kmip20.OperationSign, cryptoReq{UniqueIdentifier: tt.pub, CryptographicParameters: tt.p, Data: []byte("message")})
			assert.Equal(t, kmip20.ResultReasonIncompatibleCryptographicUsageMask, it.ResultReason, "a Verify-only key does not sign")
		})
	}
}

func TestMACAndHashAndRNG(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	hmacKey := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmHMAC_SHA256, 256, make([]byte, 32),
		kmip14.CryptographicUsageMaskMACGenerate|kmip14.CryptographicUsageMaskMACVerify)
	it, mac := call(t, x, v, kmip20.OperationMAC, cryptoReq{UniqueIdentifier: hmacKey, Data: []byte("abc")})
	ok(t, it)
	assert.Len(t, mac.MACData, 32)
	it, got := call(t, x, v, kmip20.OperationMACVerify, cryptoReq{UniqueIdentifier: hmacKey, Data: []byte("abc"), MACData: mac.MACData})
	ok(t, it)
	assert.Equal(t, kmip14.ValidityIndicatorValid, got.ValidityIndicator)
	it, got = call(t, x, v, kmip20.OperationMACVerify, cryptoReq{UniqueIdentifier: hmacKey, Data: []byte("abd"), MACData: mac.MACData})
	ok(t, it)
	assert.Equal(t, kmip14.ValidityIndicatorInvalid, got.ValidityIndicator)

	// CMAC with an AES key (RFC 4493 example 2).
	cmacKey := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128,
		[]byte{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}, kmip14.CryptographicUsageMaskMACGenerate)
	it, mac = call(t, x, v, kmip20.OperationMAC, cryptoReq{UniqueIdentifier: cmacKey, Data: []byte{0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a}})
	ok(t, it)
	assert.Equal(t, []byte{0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44, 0xf7, 0x9b, 0xdd, 0x9d, 0xd0, 0x4a, 0x28, 0x7c}, mac.MACData)

	// Hash in two parts.
	it, h1 := call(t, x, v, kmip20.OperationHash, cryptoReq{CryptographicParameters: &params{HashingAlgorithm: kmip14.HashingAlgorithmSHA_256}, Data: []byte("ab"), InitIndicator: true})
	ok(t, it)
	it, h2 := call(t, x, v, kmip20.OperationHash, cryptoReq{Data: []byte("c"), CorrelationValue: h1.CorrelationValue, FinalIndicator: true})
	ok(t, it)
	sum := sha256.Sum256([]byte("abc"))
	assert.Equal(t, sum[:], h2.Data)

	it, rnd := call(t, x, v, kmip20.OperationRNGRetrieve, cryptoReq{DataLength: 32})
	ok(t, it)
	assert.Len(t, rnd.Data, 32)
	it, _ = call(t, x, v, kmip20.OperationRNGRetrieve, cryptoReq{DataLength: 1 << 30})
	assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason)
	it, seeded := call(t, x, v, kmip20.OperationRNGSeed, cryptoReq{Data: []byte("seed")})
	ok(t, it)
	assert.Zero(t, seeded.DataLength)
}

func TestUsageLimits(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	limits := struct {
		UsageLimitsTotal int64
		UsageLimitsUnit  kmip14.UsageLimitsUnit
	}{32, kmip14.UsageLimitsUnitByte}
	id := registerKey(t, x, message.V1_4, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, aesKey,
		kmip14.CryptographicUsageMaskEncrypt, kmiptest.Attr1{AttributeName: "Usage Limits", AttributeValue: limits})
	ecb := &params{BlockCipherMode: kmip14.BlockCipherModeECB}
	for i := 0; i < 2; i++ {
		it, _ := call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, CryptographicParameters: ecb, Data: aesKey})
		ok(t, it)
	}
	it, _ := call(t, x, message.V1_4, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id, CryptographicParameters: ecb, Data: aesKey})
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, it.ResultReason)
}
