package ops_test

import (
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // OAEP's default hash in KMIP
	"crypto/x509"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

type keyInfo struct {
	UniqueIdentifier        string
	CryptographicParameters *params `ttlv:",omitempty"`
}

type wrapSpec struct {
	WrappingMethod           kmip14.WrappingMethod
	EncryptionKeyInformation keyInfo
	AttributeName            []string              `ttlv:",omitempty"`
	EncodingOption           kmip14.EncodingOption `ttlv:",omitempty"`
}

type wrappedGet struct {
	ObjectType       kmip14.ObjectType
	UniqueIdentifier string
	SymmetricKey     struct {
		KeyBlock struct {
			KeyFormatType          kmip14.KeyFormatType
			KeyValue               ttlv.TTLV
			CryptographicAlgorithm kmip14.CryptographicAlgorithm
			CryptographicLength    int32
			KeyWrappingData        struct {
				WrappingMethod           kmip14.WrappingMethod
				EncryptionKeyInformation keyInfo
				IVCounterNonce           []byte
				EncodingOption           kmip14.EncodingOption
			}
		}
	}
}

// getWrapped gets id wrapped as spec says.
func getWrapped(t *testing.T, x *server.Executor, v message.Version, id string, spec wrapSpec) (kmiptest.ResponseItem, wrappedGet) {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, struct {
		UniqueIdentifier         string
		KeyWrappingSpecification wrapSpec
	}{id, spec})
	var out wrappedGet
	if it.ResultStatus == kmip14.ResultStatusSuccess {
		kmiptest.Decode(t, it.ResponsePayload, &out)
	}
	return it, out
}

// kwUnwrap is RFC 3394 unwrapping, written here again so that the test
// does not trust the server's.
func kwUnwrap(t *testing.T, kek, wrapped []byte) []byte {
	t.Helper()
	b, err := aes.NewCipher(kek)
	require.NoError(t, err)
	n := len(wrapped)/8 - 1
	a := append([]byte(nil), wrapped[:8]...)
	r := append([]byte(nil), wrapped[8:]...)
	buf := make([]byte, 16)
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			copy(buf, a)
			tt := uint64(n*j + i)
			for k := 0; k < 8; k++ {
				buf[7-k] ^= byte(tt >> (8 * k))
			}
			copy(buf[8:], r[8*(i-1):8*i])
			b.Decrypt(buf, buf)
			copy(a, buf[:8])
			copy(r[8*(i-1):], buf[8:])
		}
	}
	require.Equal(t, []byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}, a, "KW integrity value")
	return r
}

func TestGetWrapped(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_2, message.V1_4, message.V2_0} {
		t.Run(v.String(), func(t *testing.T) {
			kek := []byte("0123456789abcdef0123456789abcdef")
			kekID := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 256, kek,
				kmip14.CryptographicUsageMaskWrapKey|kmip14.CryptographicUsageMaskUnwrapKey)
			secret := []byte("the key to wrap, 32 bytes long!!")
			// Sensitive: it leaves the server wrapped only.
			id := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 256, secret,
				kmip14.CryptographicUsageMaskEncrypt, kmiptest.Attr1{AttributeName: "Sensitive", AttributeValue: true})

			it, got := getWrapped(t, x, v, id, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt,
				EncryptionKeyInformation: keyInfo{UniqueIdentifier: kekID}, EncodingOption: kmip14.EncodingOptionNoEncoding})
			ok(t, it)
			kb := got.SymmetricKey.KeyBlock
			require.Equal(t, ttlv.TypeByteString, kb.KeyValue.Type())
			assert.Equal(t, secret, kwUnwrap(t, kek, kb.KeyValue.ValueByteString()))
			assert.Equal(t, kekID, kb.KeyWrappingData.EncryptionKeyInformation.UniqueIdentifier)
			assert.Equal(t, kmip14.WrappingMethodEncrypt, kb.KeyWrappingData.WrappingMethod)
			assert.Equal(t, kmip14.CryptographicAlgorithmAES, kb.CryptographicAlgorithm)

			// TTLV encoding (the default), with an attribute.
			it, got = getWrapped(t, x, v, id, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt,
				EncryptionKeyInformation: keyInfo{UniqueIdentifier: kekID}, AttributeName: []string{"Cryptographic Usage Mask"}})
			ok(t, it)
			value := ttlv.TTLV(kwUnwrap(t, kek, got.SymmetricKey.KeyBlock.KeyValue.ValueByteString()))
			require.NoError(t, value.Valid())
			assert.Equal(t, kmip14.TagKeyValue, value.Tag())
			var kv struct {
				KeyMaterial []byte
			}
			require.NoError(t, ttlv.Unmarshal(value, &kv))
			assert.Equal(t, secret, kv.KeyMaterial)
			want := "AttributeName (TextString/24): Cryptographic Usage Mask" // 1.x Attribute
			if v.AtLeast(message.V2_0) {
				want = "Attributes (Structure/16):\n    CryptographicUsageMask (Integer/4): Encrypt"
			}
			assert.Contains(t, value.String(), want, "the named attribute is wrapped with the key")

			// The wrapping key must allow Wrap Key.
			encOnly := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 256, kek, kmip14.CryptographicUsageMaskEncrypt)
			it, _ = getWrapped(t, x, v, id, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt, EncryptionKeyInformation: keyInfo{UniqueIdentifier: encOnly}})
			assert.Equal(t, message.ReasonFor(v, kmip20.ResultReasonIncompatibleCryptographicUsageMask), it.ResultReason, it.ResultMessage)

			// Register of the wrapped block unwraps it: Get returns the
			// material of the original.
			reg := kmiptest.Exec1(t, x, v, kmip20.OperationRegister, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, struct {
				KeyBlock any
			}{got.SymmetricKey.KeyBlock}, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt}))
			ok(t, reg)
			var newID kmiptest.UID
			kmiptest.Decode(t, reg.ResponsePayload, &newID)
			assert.Equal(t, secret, keyMaterial(t, x, v, newID.UniqueIdentifier))

			// A wrapped block that was tampered with is refused.
			bad := got.SymmetricKey.KeyBlock
			raw := append([]byte(nil), bad.KeyValue.ValueByteString()...)
			raw[5] ^= 1
			bad.KeyValue = message.WrappedKeyValue(raw)
			reg = kmiptest.Exec1(t, x, v, kmip20.OperationRegister, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock any }{bad}))
			assert.Equal(t, kmip20.ResultReasonCryptographicFailure, reg.ResultReason, reg.ResultMessage)
		})
	}
}

// TestGetWrappedRSAOAEP wraps an AES key under a registered RSA public key
// (OAEP, SHA-1) and unwraps it with Go and the private key.
func TestGetWrappedRSAOAEP(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubID := registerKey(t, x, v, kmip14.ObjectTypePublicKey, kmip14.KeyFormatTypeX_509, kmip14.CryptographicAlgorithmRSA, 2048,
		must(x509.MarshalPKIXPublicKey(&priv.PublicKey)), kmip14.CryptographicUsageMaskWrapKey)
	secret := []byte("0123456789abcdef")
	id := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, secret, kmip14.CryptographicUsageMaskEncrypt)
	it, got := getWrapped(t, x, v, id, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt,
		EncryptionKeyInformation: keyInfo{UniqueIdentifier: pubID, CryptographicParameters: &params{PaddingMethod: kmip14.PaddingMethodOAEP}}, EncodingOption: kmip14.EncodingOptionNoEncoding})
	ok(t, it)
	plain, err := rsa.DecryptOAEP(sha1.New(), nil, priv, got.SymmetricKey.KeyBlock.KeyValue.ValueByteString(), nil)
	require.NoError(t, err)
	assert.Equal(t, secret, plain)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
