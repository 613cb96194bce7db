package integration

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportThroughTKEKLocated is the secure import as a client does it
// with its ordinary KMIP calls, with ovh/kmip-go (its own codec) on the
// real server and SoftHSM2: Locate by the name "TKEK" (the label prefix)
// finds the partition's TKEKs as Public Key objects of a shared,
// read-only namespace; Get gives the public key (X.509) and Get
// Attributes the OAEP hash the partition takes; the client encrypts an
// AES-256 key under it with RSA-OAEP and registers it with Key Wrapping
// Data naming the located Unique Identifier; Get answers the same key
// value. Destroying the TKEK is Permission Denied.
func TestImportThroughTKEKLocated(t *testing.T) {
	s := mainServer(t)
	c := ovhDial(t, s, kmip.V1_4)

	located, err := c.Locate().WithName("TKEK").WithObjectType(kmip.ObjectTypePublicKey).Exec()
	require.NoError(t, err)
	require.Len(t, located.UniqueIdentifier, 10, "the dev partition's ten TKEKs: %v", located.UniqueIdentifier)
	assert.Equal(t, "transport:TKEK-01", located.UniqueIdentifier[0])
	one, err := c.Locate().WithName("TKEK-03").Exec()
	require.NoError(t, err)
	assert.Equal(t, []string{"transport:TKEK-03"}, one.UniqueIdentifier)
	tkek := located.UniqueIdentifier[2]

	got, err := c.Get(tkek).WithKeyFormat(kmip.KeyFormatTypeX_509).Exec()
	require.NoError(t, err)
	require.Equal(t, kmip.ObjectTypePublicKey, got.ObjectType)
	pubKey, err := got.Object.(*kmip.PublicKey).CryptoPublicKey()
	require.NoError(t, err)
	pub, ok := pubKey.(*rsa.PublicKey)
	require.True(t, ok, "a %T", pubKey)
	assert.Equal(t, 2048, pub.N.BitLen())

	attrs, err := c.GetAttributes(tkek, kmip.AttributeNameCryptographicParameters).Exec()
	require.NoError(t, err)
	require.Len(t, attrs.Attribute, 1)
	var params kmip.CryptographicParameters
	switch v := attrs.Attribute[0].AttributeValue.(type) {
	case kmip.CryptographicParameters:
		params = v
	case *kmip.CryptographicParameters:
		params = *v
	default:
		t.Fatalf("Cryptographic Parameters is a %T", v)
	}
	assert.Equal(t, kmip.PaddingMethodOAEP, params.PaddingMethod)
	require.Equal(t, kmip.HashingAlgorithmSHA_1, params.HashingAlgorithm, "SoftHSM2 does RSA-OAEP with SHA-1 only")

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	enc, err := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, pub, key, nil)
	require.NoError(t, err)
	wrapped := &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypeRaw,
		KeyValue:               &kmip.KeyValue{Wrapped: &enc},
		CryptographicAlgorithm: kmip.CryptographicAlgorithmAES,
		CryptographicLength:    256,
		KeyWrappingData: &kmip.KeyWrappingData{
			WrappingMethod: kmip.WrappingMethodEncrypt,
			EncryptionKeyInformation: &kmip.EncryptionKeyInformation{
				UniqueIdentifier:        tkek,
				CryptographicParameters: &kmip.CryptographicParameters{PaddingMethod: params.PaddingMethod, HashingAlgorithm: params.HashingAlgorithm},
			},
			EncodingOption: kmip.EncodingOptionNoEncoding,
		},
	}}
	reg, err := c.Register().Object(wrapped).
		WithAttribute(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).
		Exec()
	require.NoError(t, err)
	_, material := ovhGetKey(t, c, reg.UniqueIdentifier, kmip.KeyFormatTypeRaw)
	assert.Equal(t, key, material, "Get returns the key the client wrapped under the located TKEK")

	bi := ovhResult(t, c, &payloads.DestroyRequestPayload{UniqueIdentifier: tkek})
	assert.Equal(t, kmip.ResultStatusOperationFailed, bi.ResultStatus)
	assert.Equal(t, kmip.ResultReasonPermissionDenied, bi.ResultReason, bi.ResultMessage)
	bi = ovhResult(t, c, &payloads.RevokeRequestPayload{UniqueIdentifier: tkek, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeCessationOfOperation}})
	assert.Equal(t, kmip.ResultReasonPermissionDenied, bi.ResultReason, bi.ResultMessage)
	again, err := c.Locate().WithName("TKEK-03").Exec()
	require.NoError(t, err)
	assert.Equal(t, []string{"transport:TKEK-03"}, again.UniqueIdentifier, "still published")
}
