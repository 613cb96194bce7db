package message

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
)

type name struct {
	NameValue string
	NameType  kmip14.NameType
}

func TestAttributesFromBothWireForms(t *testing.T) {
	type a1 struct {
		AttributeName  string
		AttributeValue any
	}
	v1, err := ttlv.Marshal(struct {
		TTLVTag   struct{} `ttlv:"TemplateAttribute"`
		Attribute []a1
	}{Attribute: []a1{
		{"Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES},
		{"Name", name{"disk-1", kmip14.NameTypeUninterpretedTextString}},
		{"x-Count", int32(3)},
		{"x-Blob", []byte{1, 2, 3}},
	}})
	require.NoError(t, err)

	type vendor struct {
		VendorIdentification string
		AttributeName        string
		AttributeValue       any
	}
	v2, err := ttlv.Marshal(struct {
		TTLVTag                struct{} `ttlv:"Attributes"`
		CryptographicAlgorithm kmip14.CryptographicAlgorithm
		Name                   name
		Attribute              []vendor
	}{CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, Name: name{"disk-1", kmip14.NameTypeUninterpretedTextString},
		Attribute: []vendor{
			{VendorIdentification: "x", AttributeName: "Count", AttributeValue: int32(3)},
			{VendorIdentification: "x", AttributeName: "Blob", AttributeValue: []byte{1, 2, 3}},
		}})
	require.NoError(t, err)

	from1, err := DecodeAttributes(v1)
	require.NoError(t, err)
	from2, err := DecodeAttributes(v2)
	require.NoError(t, err)
	assert.Equal(t, from1, from2, "the two wire forms decode to the same list")

	count, ok := from1.Get("x-Count")
	require.True(t, ok)
	n, err := count.Int()
	require.NoError(t, err)
	assert.Equal(t, int32(3), n, "custom attributes keep their TTLV type")
	nm, _ := from1.Get(attr.Name)
	nv, err := nm.NameValue()
	require.NoError(t, err)
	assert.Equal(t, "disk-1", nv.NameValue)

	back2, err := EncodeAttributes(V2_0, kmip20.TagAttributes, from2)
	require.NoError(t, err)
	assert.Equal(t, []byte(v2), []byte(back2), "2.x round trip is byte-exact")
	back1, err := EncodeAttributes(V1_4, kmip14.TagTemplateAttribute, from1)
	require.NoError(t, err)
	assert.Equal(t, []byte(v1), []byte(back1), "1.x round trip is byte-exact")

	stored, err := from1.Marshal()
	require.NoError(t, err)
	again, err := attr.Unmarshal(stored)
	require.NoError(t, err)
	assert.Equal(t, from1, again, "the stored form round-trips")
}

func TestDecodeAttributesRefuses(t *testing.T) {
	unknownTag := attr.Structure(kmip20.TagAttributes, attr.Retag(attr.Int(1), ttlv.Tag(0x540001)))
	template := attr.Structure(kmip14.TagTemplateAttribute, attr.Retag(attr.Text("tmpl"), kmip14.TagName))
	for name, raw := range map[string]ttlv.TTLV{"unknown tag": unknownTag, "template reference": template} {
		_, err := DecodeAttributes(raw)
		var me *Error
		assert.ErrorAs(t, err, &me, name)
	}
}
