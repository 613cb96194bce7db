package message

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
)

func digest(t *testing.T) attr.Attribute {
	v, err := attr.Struct(struct {
		HashingAlgorithm kmip14.HashingAlgorithm
		DigestValue      []byte
		KeyFormatType    kmip14.KeyFormatType
	}{kmip14.HashingAlgorithmSHA_256, []byte{1, 2}, kmip14.KeyFormatTypeRaw})
	require.NoError(t, err)
	return attr.Attribute{Name: attr.Digest, Value: v}
}

func TestEncodeAttributeByVersion(t *testing.T) {
	list := attr.List{
		{Name: attr.State, Value: attr.Enum(uint32(kmip14.StatePreActive))},
		{Name: attr.Fresh, Value: attr.Bool(true)},
		{Name: attr.Description, Value: attr.Text("d")},
		{Name: attr.ShortUniqueIdentifier, Value: attr.Bytes([]byte{9})},
		{Name: attr.OperationPolicyName, Value: attr.Text("default")},
		{Name: "x-Blob", Value: attr.Bytes([]byte{1})},
		{Name: "acme-Thing", Value: attr.Int(1)},
		{Name: "Compromise  Date", Value: attr.Date(time.Unix(7, 0))},
		digest(t),
	}
	names := func(v Version) []string {
		out, err := EncodeAttributes(v, kmip14.TagTemplateAttribute, list)
		require.NoError(t, err)
		var got []string
		for _, c := range attr.Children(out) {
			if c.Tag() == kmip14.TagAttribute {
				a, err := DecodeAttribute(c)
				require.NoError(t, err)
				got = append(got, a.Name)
				continue
			}
			r, ok := attr.ByTag(c.Tag())
			require.True(t, ok, c.Tag().String())
			got = append(got, r.Name)
		}
		return got
	}
	assert.Equal(t, []string{attr.State, attr.OperationPolicyName, "x-Blob", attr.CompromiseDate, attr.Digest}, names(V1_0))
	assert.Equal(t, []string{attr.State, attr.Fresh, attr.OperationPolicyName, "x-Blob", attr.CompromiseDate, attr.Digest}, names(V1_1))
	assert.Equal(t, []string{attr.State, attr.Fresh, attr.Description, attr.OperationPolicyName, "x-Blob", attr.CompromiseDate, attr.Digest}, names(V1_4))
	assert.Equal(t, []string{attr.State, attr.Fresh, attr.Description, attr.ShortUniqueIdentifier, "x-Blob", "acme-Thing", attr.CompromiseDate, attr.Digest}, names(V2_1))

	// KMIP 1.0's Digest has no Key Format Type (the 1.0 vectors); 1.1 on has it.
	for v, members := range map[Version]int{V1_0: 2, V1_1: 3, V2_0: 3} {
		item, ok, err := EncodeAttribute(v, digest(t))
		require.NoError(t, err)
		require.True(t, ok)
		value := item
		if !v.AtLeast(V2_0) {
			a, err := DecodeAttribute(item)
			require.NoError(t, err)
			value = a.Value
		}
		assert.Len(t, attr.Children(value), members, "Digest members in %s", v)
	}
}

func TestDecodeAttribute(t *testing.T) {
	one := func(a any) ttlv.TTLV {
		b, err := ttlv.Marshal(a)
		require.NoError(t, err)
		return b
	}
	type v1 struct {
		TTLVTag        struct{} `ttlv:"Attribute"`
		AttributeName  string
		AttributeIndex int32 `ttlv:",omitempty"`
		AttributeValue ttlv.TTLV
	}
	type vendor struct {
		TTLVTag              struct{} `ttlv:"Attribute"`
		VendorIdentification string
		AttributeName        string
		AttributeValue       ttlv.TTLV
	}
	a, err := DecodeAttribute(one(v1{AttributeName: "Object   Group", AttributeIndex: 2, AttributeValue: attr.Text("g")}))
	require.NoError(t, err)
	assert.Equal(t, attr.Attribute{Name: attr.ObjectGroup, Index: 2, Value: attr.Text("g")}, a)

	a, err = DecodeAttribute(one(vendor{VendorIdentification: "x", AttributeName: "Count", AttributeValue: attr.Long(5)}))
	require.NoError(t, err)
	assert.Equal(t, attr.Attribute{Name: "x-Count", Value: attr.Long(5)}, a)

	// a 2.x attribute tagged by itself, followed by a sibling the decoder
	// must not take along
	tagged := append(attr.Retag(attr.Text("d"), kmip14.TagDescription), attr.Text("next")...)
	a, err = DecodeAttribute(tagged)
	require.NoError(t, err)
	assert.Equal(t, attr.Attribute{Name: attr.Description, Value: attr.Text("d")}, a)

	in, err := DecodeAttributeIn(attr.Structure(kmip20.TagNewAttribute, attr.Retag(attr.Int(12), kmip14.TagCryptographicUsageMask)))
	require.NoError(t, err)
	assert.Equal(t, attr.CryptographicUsageMask, in.Name)

	var me *Error
	_, err = DecodeAttribute(attr.Retag(attr.Int(1), kmip14.TagKeyBlock))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, kmip20.ResultReasonUnsupportedAttribute, me.Reason)
	_, err = DecodeAttributeIn(attr.Structure(kmip20.TagNewAttribute))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, kmip20.ResultReasonInvalidField, me.Reason)
	_, err = DecodeAttributeIn(attr.Structure(kmip20.TagNewAttribute, attr.Retag(attr.Int(1), kmip14.TagCryptographicLength), attr.Retag(attr.Int(1), kmip14.TagCryptographicLength)))
	require.ErrorAs(t, err, &me)
	_, err = DecodeAttribute(one(v1{AttributeName: "Name"}))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, kmip20.ResultReasonInvalidField, me.Reason)
}

func TestAttributeReferences(t *testing.T) {
	for _, name := range []string{attr.State, attr.CompromiseDate, "x-CustomAttribute4", "acme-Thing", "Rotate Interval"} {
		ref, err := EncodeAttributeReference(name)
		require.NoError(t, err, name)
		assert.Equal(t, kmip20.TagAttributeReference, ref.Tag())
		back, err := DecodeAttributeReference(ref)
		require.NoError(t, err, name)
		assert.Equal(t, name, back)
	}
	ref, err := EncodeAttributeReference(attr.State)
	require.NoError(t, err)
	assert.Equal(t, ttlv.TypeEnumeration, ref.Type())
	assert.Equal(t, uint32(kmip14.TagState), uint32(ref.ValueEnumeration()), "a standard attribute is referenced by its tag")

	var me *Error
	_, err = DecodeAttributeReference(attr.Retag(attr.Enum(uint32(kmip14.TagKeyBlock)), kmip20.TagAttributeReference))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, kmip20.ResultReasonUnsupportedAttribute, me.Reason)
	_, err = DecodeAttributeReference(attr.Retag(attr.Text("State"), kmip20.TagAttributeReference))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, kmip20.ResultReasonInvalidField, me.Reason)
}

// vendorAttribute is a 2.x vendor attribute (KMIP 2.1 section 2.1.1): the
// 1.x custom attribute "x-Name" travels as vendor "x", name "Name".
type vendorAttribute struct {
	TTLVTag              struct{} `ttlv:"Attribute"`
	VendorIdentification string
	AttributeName        string
	AttributeValue       ttlv.TTLV
}

// TestEncodeAttributeMatchesReflection: the hand-written 1.x Attribute and
// 2.x vendor Attribute structures are the bytes gemalto's encoder writes.
func TestEncodeAttributeMatchesReflection(t *testing.T) {
	values := []ttlv.TTLV{attr.Text("v"), attr.Int(7), attr.Structure(kmip14.TagAttributeValue, attr.Retag(attr.Text("n"), kmip14.TagNameValue)), attr.Bytes(nil)}
	for _, value := range values {
		for _, index := range []int32{0, 1, 3} {
			a := attr.Attribute{Name: "x-Vendor", Index: index, Value: value}
			want, err := ttlv.Marshal(struct {
				TTLVTag        struct{} `ttlv:"Attribute"`
				AttributeName  string
				AttributeIndex int32 `ttlv:",omitempty"`
				AttributeValue ttlv.TTLV
			}{AttributeName: a.Name, AttributeIndex: a.Index, AttributeValue: a.Value})
			require.NoError(t, err)
			got, err := encodeAttribute(V1_4, a)
			require.NoError(t, err)
			assert.Equal(t, []byte(want), []byte(got), "1.x, index %d, value %s", index, value)
		}
		want, err := ttlv.Marshal(vendorAttribute{VendorIdentification: "x", AttributeName: "Vendor", AttributeValue: value})
		require.NoError(t, err)
		got, err := encodeAttribute(V2_0, attr.Attribute{Name: "x-Vendor", Value: value})
		require.NoError(t, err)
		assert.Equal(t, []byte(want), []byte(got), "2.x vendor attribute, value %s", value)
	}
}
