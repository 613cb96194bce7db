package ops_test

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

type pairIDs struct{ PrivateKeyUniqueIdentifier, PublicKeyUniqueIdentifier string }

// TestReKeyKeyPair replaces an EC pair: the new pair has the old one's
// algorithm, length and usage masks, takes its Names, links to it both
// ways, and signs; at 1.x and 2.x.
func TestReKeyKeyPair(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_4, message.V2_0} {
		t.Run(v.String(), func(t *testing.T) {
			common := []kmiptest.Attr1{
				{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmEC},
				{AttributeName: "Cryptographic Length", AttributeValue: int32(256)},
				{AttributeName: "Activation Date", AttributeValue: timeAgo()},
			}
			priv := []kmiptest.Attr1{{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskSign},
				{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: "signer-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}}}
			pub := []kmiptest.Attr1{{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskVerify}}
			var payload any
			if v.AtLeast(message.V2_0) {
				payload = struct{ CommonAttributes, PrivateKeyAttributes, PublicKeyAttributes ttlv.TTLV }{
					retag(kmip20.TagCommonAttributes, common...), retag(kmip20.TagPrivateKeyAttributes, priv...), retag(kmip20.TagPublicKeyAttributes, pub...)}
			} else {
				type tmpl struct{ Attribute []kmiptest.Attr1 }
				payload = struct{ CommonTemplateAttribute, PrivateKeyTemplateAttribute, PublicKeyTemplateAttribute tmpl }{tmpl{common}, tmpl{priv}, tmpl{pub}}
			}
			it := kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, payload)
			ok(t, it)
			var old pairIDs
			kmiptest.Decode(t, it.ResponsePayload, &old)

			it = kmiptest.Exec1(t, x, v, kmip20.OperationReKeyKeyPair, struct{ PrivateKeyUniqueIdentifier string }{old.PrivateKeyUniqueIdentifier})
			ok(t, it)
			var fresh pairIDs
			kmiptest.Decode(t, it.ResponsePayload, &fresh)
			require.NotEqual(t, old.PrivateKeyUniqueIdentifier, fresh.PrivateKeyUniqueIdentifier)

			attrsOf := func(id string) string {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributes, kmiptest.UID{UniqueIdentifier: id})
				ok(t, it)
				return it.ResponsePayload.String()
			}
			newPriv, oldPriv := attrsOf(fresh.PrivateKeyUniqueIdentifier), attrsOf(old.PrivateKeyUniqueIdentifier)
			assert.Contains(t, newPriv, "signer-"+v.String(), "the Name moves to the replacement")
			assert.NotContains(t, oldPriv, "signer-"+v.String())
			assert.Contains(t, newPriv, old.PrivateKeyUniqueIdentifier, "Replaced Object Link")
			assert.Contains(t, oldPriv, fresh.PrivateKeyUniqueIdentifier, "Replacement Object Link")
			assert.Contains(t, attrsOf(old.PublicKeyUniqueIdentifier), fresh.PublicKeyUniqueIdentifier)
			assert.Contains(t, attrsOf(fresh.PublicKeyUniqueIdentifier), fresh.PrivateKeyUniqueIdentifier, "the new halves are linked")

			it, signed := call(t, x, v, kmip20.OperationSign, cryptoReq{UniqueIdentifier: fresh.PrivateKeyUniqueIdentifier, Data: []byte("m")})
			ok(t, it)
			it, verified := call(t, x, v, kmip20.OperationSignatureVerify, cryptoReq{UniqueIdentifier: fresh.PublicKeyUniqueIdentifier, Data: []byte("m"), SignatureData: signed.SignatureData})
			ok(t, it)
			assert.Equal(t, kmip14.ValidityIndicatorValid, verified.ValidityIndicator)

			it = kmiptest.Exec1(t, x, v, kmip20.OperationReKeyKeyPair, struct{ PrivateKeyUniqueIdentifier string }{old.PublicKeyUniqueIdentifier})
			assert.Equal(t, message.ReasonFor(v, kmip20.ResultReasonIllegalOperation), it.ResultReason, "named by the private key only")
		})
	}
}
