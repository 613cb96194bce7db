package ops_test

import (
	"encoding/hex"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// TestExportImport moves a key from one tenant to another under a shared
// key-encryption key: Export wraps it (with its attributes beside), Import
// unwraps it under the same Unique Identifier; Get in the other tenant
// returns the same material. A second Import needs Replace Existing.
func TestExportImport(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V2_1
	kek := []byte("0123456789abcdef0123456789abcdef")
	mask := kmip14.CryptographicUsageMaskWrapKey | kmip14.CryptographicUsageMaskUnwrapKey
	kekA := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 256, kek, mask)
	secret := []byte("fedcba9876543210")
	id := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, secret, kmip14.CryptographicUsageMaskEncrypt,
		kmiptest.Attr1{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: "exported", NameType: kmip14.NameTypeUninterpretedTextString}})

	it := kmiptest.Exec1(t, x, v, kmip20.OperationExport, struct {
		UniqueIdentifier         string
		KeyWrappingSpecification wrapSpec
	}{id, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt, EncryptionKeyInformation: keyInfo{UniqueIdentifier: kekA}}})
	ok(t, it)
	var exported struct {
		ObjectType       kmip14.ObjectType
		UniqueIdentifier string
		Attributes       ttlv.TTLV
		SymmetricKey     ttlv.TTLV
	}
	kmiptest.Decode(t, it.ResponsePayload, &exported)
	assert.Equal(t, id, exported.UniqueIdentifier)
	assert.Contains(t, exported.Attributes.String(), "exported", "the attributes come along")
	assert.Contains(t, exported.SymmetricKey.String(), "KeyWrappingData")
	assert.NotContains(t, exported.SymmetricKey.String(), hex.EncodeToString(secret), "the material leaves wrapped only")

	// Tenant B holds the same KEK under its own identifier.
	reg := kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
		KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: kmiptest.KeyValue{KeyMaterial: kek},
		CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: 256,
	}}, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: mask})
	r, _ := kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationRegister, RequestPayload: reg}))
	ok(t, r.BatchItem[0])
	var kekB kmiptest.UID
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &kekB)
	r, _ = kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationActivate, RequestPayload: kekB}))
	ok(t, r.BatchItem[0])

	// The Key Wrapping Data names tenant A's KEK: point it at B's.
	block := renameWrappingKey(t, exported.SymmetricKey, kekA, kekB.UniqueIdentifier)
	imp := struct {
		UniqueIdentifier string
		ObjectType       kmip14.ObjectType
		ReplaceExisting  bool `ttlv:",omitempty"`
		Attributes       ttlv.TTLV
		SymmetricKey     ttlv.TTLV
	}{id, kmip14.ObjectTypeSymmetricKey, false, exported.Attributes, block}
	r, _ = kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationImport, RequestPayload: imp}))
	ok(t, r.BatchItem[0])
	r, _ = kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.Get(id, 0)}))
	ok(t, r.BatchItem[0])
	var got kmiptest.GetResponse
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &got)
	material, _ := got.KeyBlock().Material()
	assert.Equal(t, secret, material.ValueByteString())

	r, _ = kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationImport, RequestPayload: imp}))
	assert.Equal(t, kmip20.ResultReasonObjectAlreadyExists, r.BatchItem[0].ResultReason)
	imp.ReplaceExisting = true
	r, _ = kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationImport, RequestPayload: imp}))
	ok(t, r.BatchItem[0])
}

// renameWrappingKey returns the object structure obj with the Unique
// Identifier of its Encryption Key Information changed from one to to.
func renameWrappingKey(t *testing.T, obj ttlv.TTLV, from, to string) ttlv.TTLV {
	t.Helper()
	var o struct {
		KeyBlock struct {
			KeyFormatType          kmip14.KeyFormatType
			KeyValue               ttlv.TTLV
			CryptographicAlgorithm kmip14.CryptographicAlgorithm
			CryptographicLength    int32
			KeyWrappingData        struct {
				WrappingMethod           kmip14.WrappingMethod
				EncryptionKeyInformation keyInfo
			}
		}
	}
	require.NoError(t, ttlv.Unmarshal(obj, &o))
	require.Equal(t, from, o.KeyBlock.KeyWrappingData.EncryptionKeyInformation.UniqueIdentifier)
	o.KeyBlock.KeyWrappingData.EncryptionKeyInformation.UniqueIdentifier = to
	b, err := ttlv.Marshal(struct {
		TTLVTag  struct{} `ttlv:"SymmetricKey"`
		KeyBlock any
	}{KeyBlock: o.KeyBlock})
	require.NoError(t, err)
	return b
}
