package ops_test

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// TestGetAttributeList follows TL-M-3: custom attributes first (by name),
// then Unique Identifier, Object Type, Cryptographic Algorithm and
// Length, then the others by name, each once; 1.x answers Attribute
// Names, 2.x Attribute References (vendor ones as structures).
func TestGetAttributeList(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			sfx := "-" + v.String()
			id := kmiptest.NewAESKey(t, x, v,
				kmiptest.Attr1{AttributeName: "x-ID", AttributeValue: "TL"},
				attrNamed("list-a"+sfx), attrNamed("list-b"+sfx),
				kmiptest.Attr1{AttributeName: "x-Barcode", AttributeValue: "XXA012A1"})
			if v.AtLeast(message.V1_4) {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, id, kmiptest.Attr1{AttributeName: attr.Description, AttributeValue: "d"}))
				require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			}
			it := kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributeList, kmiptest.UID{UniqueIdentifier: id})
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)

			var got []string
			for _, c := range attr.Children(it.ResponsePayload) {
				switch c.Tag() {
				case kmip14.TagUniqueIdentifier:
					assert.Equal(t, id, c.ValueTextString())
				case kmip14.TagAttributeName:
					assert.False(t, v.AtLeast(message.V2_0), "Attribute Name in a 2.x answer")
					got = append(got, c.ValueTextString())
				case kmip20.TagAttributeReference:
					assert.True(t, v.AtLeast(message.V2_0), "Attribute Reference in a 1.x answer")
					name, err := message.DecodeAttributeReference(c)
					require.NoError(t, err)
					got = append(got, name)
				default:
					t.Errorf("unexpected %s", c.Tag())
				}
			}
			want := inVersion(v, "x-Barcode", "x-ID", attr.UniqueIdentifier, attr.ShortUniqueIdentifier, attr.ObjectType,
				attr.CryptographicAlgorithm, attr.CryptographicLength, attr.AlwaysSensitive, attr.CryptographicUsageMask,
				attr.Description, attr.Digest, attr.Extractable, attr.Fresh, attr.InitialDate, attr.KeyFormatType,
				attr.LastChangeDate, attr.LeaseTime, attr.Name, attr.NeverExtractable, attr.OriginalCreationDate,
				attr.ProtectionStorageMask, attr.RandomNumberGenerator, attr.Sensitive, attr.State)
			assert.Equal(t, want, got)
		})
	}
	it := kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationGetAttributeList, kmiptest.UID{UniqueIdentifier: "no-such-object"})
	assert.Equal(t, kmip20.ResultReasonObjectNotFound, it.ResultReason)
}
