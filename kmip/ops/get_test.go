package ops_test

import (
	"crypto/x509"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// TestGetCreatedKeyFormats: a key the server made is Raw by default and
// Transparent Symmetric Key on request, nothing else.
func TestGetCreatedKeyFormats(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_0, message.V1_4, message.V2_1} {
		id := kmiptest.NewAESKey(t, x, v)
		raw, items := getObject(t, x, v, id, 0).KeyBlock().Material()
		assert.Equal(t, 1, items)
		require.Len(t, raw.ValueByteString(), 32)
		got := getObject(t, x, v, id, kmip14.KeyFormatTypeTransparentSymmetricKey)
		assert.Equal(t, kmip14.KeyFormatTypeTransparentSymmetricKey, got.SymmetricKey.KeyBlock.KeyFormatType)
		item, _ := got.KeyBlock().Material()
		assert.Equal(t, materialItem(t, struct{ Key []byte }{raw.ValueByteString()}), item)
		for _, f := range []kmip14.KeyFormatType{kmip14.KeyFormatTypeOpaque, kmip14.KeyFormatTypePKCS_1, kmip14.KeyFormatTypeX_509} {
			it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, f))
			assert.Equal(t, kmip20.ResultReasonKeyFormatTypeNotSupported, it.ResultReason, "%s: %s", f, it.ResultMessage)
		}
	}
}

// TestGetRefuses: a Key Wrapping Specification must name the wrapping
// key; compressed EC points are not supported; a Sensitive object only leaves the server wrapped, a
// non-Extractable one never; a destroyed one has no material.
func TestGetRefuses(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V2_1
	aes := keyObject(kmip14.KeyFormatTypeRaw, []byte("0123456789abcdef"), kmip14.CryptographicAlgorithmAES, 128)
	id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, aes))

	it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, struct {
		UniqueIdentifier         string
		KeyWrappingSpecification struct{ WrappingMethod kmip14.WrappingMethod }
	}{id, struct{ WrappingMethod kmip14.WrappingMethod }{kmip14.WrappingMethodEncrypt}})
	assert.Equal(t, kmip20.ResultReasonMissingData, it.ResultReason, it.ResultMessage)

	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, struct {
		UniqueIdentifier string
		KeyWrapType      kmip14.KeyWrapType
	}{id, kmip14.KeyWrapTypeNotWrapped})
	assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "Not Wrapped is what Get does: %s", it.ResultMessage)

	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, struct {
		UniqueIdentifier   string
		KeyCompressionType kmip14.KeyCompressionType
	}{id, kmip14.KeyCompressionTypeECPublicKeyTypeX9_62CompressedPrime})
	assert.Equal(t, kmip20.ResultReasonKeyCompressionTypeNotSupported, it.ResultReason, it.ResultMessage)

	sensitive := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, aes, kmiptest.Attr1{AttributeName: "Sensitive", AttributeValue: true}))
	fixed := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, aes, kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false}))
	for _, cv := range []message.Version{message.V1_2, message.V1_4, message.V2_1} {
		it = kmiptest.Exec1(t, x, cv, kmip20.OperationGet, kmiptest.Get(sensitive, 0))
		assert.Equal(t, message.ReasonFor(cv, kmip20.ResultReasonSensitive), it.ResultReason, "%s: %s", cv, it.ResultMessage)
		it = kmiptest.Exec1(t, x, cv, kmip20.OperationGet, kmiptest.Get(fixed, 0))
		assert.Equal(t, message.ReasonFor(cv, kmip20.ResultReasonNotExtractable), it.ResultReason, "%s: %s", cv, it.ResultMessage)
	}

	it = kmiptest.Exec1(t, x, v, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: id})
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, 0))
	assert.Equal(t, kmip20.ResultReasonObjectDestroyed, it.ResultReason, it.ResultMessage)
}

// TestGetECKeyAlgorithmPerVersion: the algorithm the server records for an
// EC key registered without one is EC from KMIP 1.3 on, ECDSA before.
func TestGetECKeyAlgorithmPerVersion(t *testing.T) {
	spki, err := x509.MarshalPKIXPublicKey(&materials().ec.PublicKey)
	require.NoError(t, err)
	x := kmiptest.NewExecutor(t)
	for v, want := range map[message.Version]kmip14.CryptographicAlgorithm{
		message.V1_2: kmip14.CryptographicAlgorithmECDSA,
		message.V1_3: kmip14.CryptographicAlgorithmEC,
		message.V2_1: kmip14.CryptographicAlgorithmEC,
	} {
		id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypePublicKey, keyObject(kmip14.KeyFormatTypeX_509, spki, 0, 0)))
		kb := getObject(t, x, v, id, 0).KeyBlock()
		assert.Equal(t, want, kb.CryptographicAlgorithm, v.String())
		assert.Equal(t, int32(256), kb.CryptographicLength)
	}
}

// TestGetEndsFresh follows BL-M-13: an object is Fresh until a Get serves
// its material.
func TestGetEndsFresh(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	id := registerOK(t, x, v, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey,
		keyObject(kmip14.KeyFormatTypeRaw, []byte("0123456789abcdef"), kmip14.CryptographicAlgorithmAES, 128),
		kmiptest.Attr1{AttributeName: "Fresh", AttributeValue: true}))
	require.Len(t, attributes1(t, x, id, "Fresh")["Fresh"], 1)
	assert.True(t, attributes1(t, x, id, "Fresh")["Fresh"][0].ValueBoolean())
	getObject(t, x, v, id, 0)
	assert.False(t, attributes1(t, x, id, "Fresh")["Fresh"][0].ValueBoolean())
	getObject(t, x, v, id, 0)
	assert.Len(t, attributes1(t, x, id, "Fresh")["Fresh"], 1)
}
