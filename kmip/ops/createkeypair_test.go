package ops_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
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

// createKeyPairPayload builds a Create Key Pair request in v's form.
func createKeyPairPayload(v message.Version, alg kmip14.CryptographicAlgorithm, length int32, name string) any {
	common := []kmiptest.Attr1{
		{AttributeName: "Cryptographic Algorithm", AttributeValue: alg},
		{AttributeName: "Cryptographic Length", AttributeValue: length},
	}
	half := func(suffix string, mask kmip14.CryptographicUsageMask) []kmiptest.Attr1 {
		return []kmiptest.Attr1{
			{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: name + suffix, NameType: kmip14.NameTypeUninterpretedTextString}},
			{AttributeName: "Cryptographic Usage Mask", AttributeValue: mask},
		}
	}
	if v.AtLeast(message.V2_0) {
		return struct {
			CommonAttributes     ttlv.TTLV
			PrivateKeyAttributes ttlv.TTLV
			PublicKeyAttributes  ttlv.TTLV
		}{
			retagged(kmiptest.Attributes2(common...), kmip20.TagCommonAttributes),
			retagged(kmiptest.Attributes2(half("-private", kmip14.CryptographicUsageMaskSign)...), kmip20.TagPrivateKeyAttributes),
			retagged(kmiptest.Attributes2(half("-public", kmip14.CryptographicUsageMaskVerify)...), kmip20.TagPublicKeyAttributes),
		}
	}
	type tmpl struct{ Attribute []kmiptest.Attr1 }
	return struct {
		CommonTemplateAttribute     tmpl
		PrivateKeyTemplateAttribute tmpl
		PublicKeyTemplateAttribute  tmpl
	}{tmpl{common}, tmpl{half("-private", kmip14.CryptographicUsageMaskSign)}, tmpl{half("-public", kmip14.CryptographicUsageMaskVerify)}}
}

func retagged(t ttlv.TTLV, tag ttlv.Tag) ttlv.TTLV {
	out := append(ttlv.TTLV(nil), t...)
	out[0], out[1], out[2] = byte(tag>>16), byte(tag>>8), byte(tag)
	return out
}

func getKeyDER(t *testing.T, x *server.Executor, v message.Version, id string, f kmip14.KeyFormatType) []byte {
	it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, f))
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var got kmiptest.GetResponse
	kmiptest.Decode(t, it.ResponsePayload, &got)
	kb := got.KeyBlock()
	require.NotNil(t, kb)
	assert.Equal(t, f, kb.KeyFormatType)
	m, items := kb.Material()
	assert.Equal(t, 1, items, "no attributes inside the Key Value")
	return m.ValueByteString()
}

func TestCreateKeyPair(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	tests := []struct {
		v      message.Version
		alg    kmip14.CryptographicAlgorithm
		length int32
	}{
		{message.V1_4, kmip14.CryptographicAlgorithmRSA, 2048},
		{message.V2_1, kmip14.CryptographicAlgorithmRSA, 2048},
		{message.V1_4, kmip14.CryptographicAlgorithmEC, 256},
		{message.V2_1, kmip14.CryptographicAlgorithmEC, 384},
	}
	for _, tt := range tests {
		t.Run(tt.v.String()+"-"+tt.alg.String(), func(t *testing.T) {
			it := kmiptest.Exec1(t, x, tt.v, kmip20.OperationCreateKeyPair, createKeyPairPayload(tt.v, tt.alg, tt.length, "pair-"+tt.v.String()+tt.alg.String()))
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			var ids struct{ PrivateKeyUniqueIdentifier, PublicKeyUniqueIdentifier string }
			kmiptest.Decode(t, it.ResponsePayload, &ids)
			require.NotEqual(t, ids.PrivateKeyUniqueIdentifier, ids.PublicKeyUniqueIdentifier)

			priv, err := x509.ParsePKCS8PrivateKey(getKeyDER(t, x, tt.v, ids.PrivateKeyUniqueIdentifier, kmip14.KeyFormatTypePKCS_8))
			require.NoError(t, err)
			pub, err := x509.ParsePKIXPublicKey(getKeyDER(t, x, tt.v, ids.PublicKeyUniqueIdentifier, kmip14.KeyFormatTypeX_509))
			require.NoError(t, err)
			switch k := priv.(type) {
			case *rsa.PrivateKey:
				assert.True(t, k.PublicKey.Equal(pub), "the two halves belong together")
				assert.Equal(t, int(tt.length), k.N.BitLen())
			case *ecdsa.PrivateKey:
				assert.True(t, k.PublicKey.Equal(pub), "the two halves belong together")
				assert.Equal(t, int(tt.length), k.Curve.Params().BitSize)
			default:
				t.Fatalf("private key of type %T", priv)
			}
			// A new private key is Pre-Active, so it can be destroyed.
			assert.Zero(t, step(t, x, tt.v, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: ids.PrivateKeyUniqueIdentifier}))
		})
	}
}

func TestCreateKeyPairRefuses(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, tt := range []struct {
		alg    kmip14.CryptographicAlgorithm
		length int32
	}{{kmip14.CryptographicAlgorithmRSA, 1024}, {kmip14.CryptographicAlgorithmEC, 255}, {kmip14.CryptographicAlgorithmAES, 256}} {
		it := kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationCreateKeyPair, createKeyPairPayload(message.V1_4, tt.alg, tt.length, "bad"))
		assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason, "%s %d: %s", tt.alg, tt.length, it.ResultMessage)
	}
}
