package ops_test

import (
	"math/bits"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

func TestCreateSymmetricAlgorithms(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	tests := []struct {
		alg    kmip14.CryptographicAlgorithm
		length int32
		bytes  int // 0: refused with Invalid Field
	}{
		{kmip14.CryptographicAlgorithmAES, 128, 16},
		{kmip14.CryptographicAlgorithmAES, 192, 24},
		{kmip14.CryptographicAlgorithmAES, 256, 32},
		{kmip14.CryptographicAlgorithmAES, 512, 0},
		{kmip14.CryptographicAlgorithmDES3, 168, 24},
		{kmip14.CryptographicAlgorithmDES3, 112, 16},
		{kmip14.CryptographicAlgorithmDES3, 192, 0},
		{kmip14.CryptographicAlgorithmHMAC_SHA256, 256, 32},
		{kmip14.CryptographicAlgorithmChaCha20, 256, 32},
		{kmip14.CryptographicAlgorithmRSA, 2048, 0},
	}
	for _, tt := range tests {
		t.Run(tt.alg.String(), func(t *testing.T) {
			payload := struct {
				ObjectType        kmip14.ObjectType
				TemplateAttribute struct{ Attribute []kmiptest.Attr1 }
			}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []kmiptest.Attr1 }{[]kmiptest.Attr1{
				{AttributeName: "Cryptographic Algorithm", AttributeValue: tt.alg},
				{AttributeName: "Cryptographic Length", AttributeValue: tt.length},
			}}}
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: payload}))
			if tt.bytes == 0 {
				assert.Equal(t, kmip20.ResultReasonInvalidField, r.BatchItem[0].ResultReason)
				return
			}
			require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
			var id kmiptest.UID
			kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &id)
			key := keyMaterial(t, x, message.V1_4, id.UniqueIdentifier)
			require.Len(t, key, tt.bytes)
			if tt.alg == kmip14.CryptographicAlgorithmDES3 {
				for _, b := range key {
					assert.Equal(t, 1, bits.OnesCount8(b)%2, "DES keys have odd parity")
				}
			}
		})
	}
}

// TestCreateFromTemplate: a 1.x Create that names a registered Template in
// its Template-Attribute gets the template's attributes (KMIP 1.4 section
// 2.1.8), its own attributes winning.
func TestCreateFromTemplate(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_2
	tmplName := kmiptest.Name{NameValue: "aes-256-template", NameType: kmip14.NameTypeUninterpretedTextString}
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationRegister,
		RequestPayload: kmiptest.Register(v, kmip14.ObjectTypeTemplate, struct{ Attribute []kmiptest.Attr1 }{[]kmiptest.Attr1{
			{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmAES},
			{AttributeName: "Cryptographic Length", AttributeValue: int32(256)},
			{AttributeName: "Object Group", AttributeValue: "from-template"},
		}}, kmiptest.Attr1{AttributeName: "Name", AttributeValue: tmplName})}))
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)

	payload := struct {
		ObjectType        kmip14.ObjectType
		TemplateAttribute struct {
			Name      kmiptest.Name
			Attribute []kmiptest.Attr1
		}
	}{ObjectType: kmip14.ObjectTypeSymmetricKey}
	payload.TemplateAttribute.Name = tmplName
	payload.TemplateAttribute.Attribute = []kmiptest.Attr1{{AttributeName: "Cryptographic Length", AttributeValue: int32(128)}}
	r, _ = kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: payload}))
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
	var id kmiptest.UID
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &id)
	assert.Len(t, keyMaterial(t, x, v, id.UniqueIdentifier), 16, "the request's own length wins over the template's")
}
