package ops_test

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// modifyPayload is a Modify Attribute request in version v's form: 1.x
// names the instance by a.AttributeIndex, 2.x by current (nil: none).
func modifyPayload(v message.Version, id string, a kmiptest.Attr1, current *kmiptest.Attr1) any {
	if !v.AtLeast(message.V2_0) {
		return struct {
			UniqueIdentifier string `ttlv:",omitempty"`
			Attribute        kmiptest.Attr1
		}{id, a}
	}
	p := struct {
		UniqueIdentifier string    `ttlv:",omitempty"`
		CurrentAttribute ttlv.TTLV `ttlv:",omitempty"`
		NewAttribute     ttlv.TTLV
	}{UniqueIdentifier: id, NewAttribute: kmiptest.Wrapped2(kmip20.TagNewAttribute, a)}
	if current != nil {
		p.CurrentAttribute = kmiptest.Wrapped2(kmip20.TagCurrentAttribute, *current)
	}
	return p
}

func TestModifyAttribute(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			sfx := "-" + v.String()
			id := kmiptest.NewAESKey(t, x, v, attrNamed("mod-a"+sfx), attrNamed("mod-b"+sfx),
				kmiptest.Attr1{AttributeName: "x-attribute1", AttributeValue: "Value1"},
				kmiptest.Attr1{AttributeName: "x-VendorAttribute2", AttributeValue: int32(0)})
			kmiptest.NewAESKey(t, x, v, attrNamed("mod-other"+sfx))
			b := attrNamed("mod-b" + sfx)
			notFound := failure(v, kmip20.ResultReasonAttributeNotFound, kmip20.ResultReasonItemNotFound)
			cases := []struct {
				name    string
				attr    kmiptest.Attr1
				current *kmiptest.Attr1
				reason  kmip20.ResultReason
			}{
				{"custom attribute (SKFF-M-9)", kmiptest.Attr1{AttributeName: "x-attribute1", AttributeValue: "ModifiedValue1"}, nil, 0},
				{"custom integer (TL-M-3)", kmiptest.Attr1{AttributeName: "x-VendorAttribute2", AttributeValue: int32(1)}, nil, 0},
				{"second Name", kmiptest.Attr1{AttributeName: attr.Name, AttributeIndex: 1, AttributeValue: kmiptest.Name{NameValue: "mod-c" + sfx}}, &b, 0},
				{"to another object's Name", kmiptest.Attr1{AttributeName: attr.Name, AttributeIndex: 1, AttributeValue: kmiptest.Name{NameValue: "mod-other" + sfx}},
					&kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: "mod-c" + sfx}},
					failure(v, kmip20.ResultReasonNonUniqueNameAttribute, kmip20.ResultReasonIllegalOperation)},
				{"absent attribute", kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: "ops"}, nil, notFound},
				{"State (BL-M-7)", kmiptest.Attr1{AttributeName: attr.State, AttributeValue: kmip14.StateCompromised}, nil,
					failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)},
				{"Cryptographic Length", kmiptest.Attr1{AttributeName: attr.CryptographicLength, AttributeValue: int32(128)}, nil,
					failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)},
				{"wrong value type", kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: "plain"}, nil,
					failure(v, kmip20.ResultReasonInvalidAttributeValue, kmip20.ResultReasonInvalidField)},
			}
			if v.AtLeast(message.V2_0) {
				cases = append(cases, []struct {
					name    string
					attr    kmiptest.Attr1
					current *kmiptest.Attr1
					reason  kmip20.ResultReason
				}{
					{"Name without Current Attribute", kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: "mod-d" + sfx}}, nil, kmip20.ResultReasonMultiValuedAttribute},
					{"Current Attribute not set", kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: "mod-d" + sfx}},
						&kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: "never"}}, kmip20.ResultReasonAttributeInstanceNotFound},
					{"Current Attribute of another attribute", kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: "mod-d" + sfx}},
						&kmiptest.Attr1{AttributeName: "x-attribute1", AttributeValue: "ModifiedValue1"}, kmip20.ResultReasonInvalidField},
				}...)
			} else {
				cases = append(cases, struct {
					name    string
					attr    kmiptest.Attr1
					current *kmiptest.Attr1
					reason  kmip20.ResultReason
				}{"index not set", kmiptest.Attr1{AttributeName: attr.Name, AttributeIndex: 5, AttributeValue: kmiptest.Name{NameValue: "mod-e" + sfx}}, nil, kmip20.ResultReasonItemNotFound})
			}
			for _, c := range cases {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationModifyAttribute, modifyPayload(v, id, c.attr, c.current))
				if c.reason != 0 {
					assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus, c.name)
					assert.Equal(t, c.reason, it.ResultReason, "%s: %s", c.name, it.ResultMessage)
					continue
				}
				require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", c.name, it.ResultMessage)
				if v.AtLeast(message.V2_0) {
					assert.Len(t, attr.Children(it.ResponsePayload), 1, "%s: a 2.x answer holds the identifier only", c.name)
					continue
				}
				got := echoed(t, it.ResponsePayload)
				assert.Equal(t, c.attr.AttributeName, got.Name, c.name)
				assert.Equal(t, c.attr.AttributeIndex, got.Index, c.name)
			}

			got := getAttrs(t, x, v, id, "x-attribute1", "x-VendorAttribute2", attr.Name)
			require.Equal(t, []string{"x-attribute1", "x-VendorAttribute2", attr.Name, attr.Name}, namesOf(got))
			assert.Equal(t, attr.Text("ModifiedValue1"), got[0].Value)
			assert.Equal(t, attr.Int(1), got[1].Value, "the custom attribute keeps its Integer type")
			first, _ := got[2].NameValue()
			second, _ := got[3].NameValue()
			assert.Equal(t, []string{"mod-a" + sfx, "mod-c" + sfx}, []string{first.NameValue, second.NameValue}, "the second Name changed in place")

			// The store's Names follow: the old name is free again, the new one taken.
			free := kmiptest.NewAESKey(t, x, v)
			it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, free, attrNamed("mod-b"+sfx)))
			assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			it = kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, free, attrNamed("mod-c"+sfx)))
			assert.Equal(t, failure(v, kmip20.ResultReasonNonUniqueNameAttribute, kmip20.ResultReasonIllegalOperation), it.ResultReason, it.ResultMessage)
		})
	}
}

// TestModifyActivationDate follows SKLC-M-3: the Activation Date of a
// Pre-Active key may change (and activates it once reached); that of an
// Active key may not (2.x Wrong Key Lifecycle State, 1.x Permission
// Denied).
func TestModifyActivationDate(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			id := kmiptest.NewAESKey(t, x, v, kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(future)})
			assert.Equal(t, attr.Enum(uint32(kmip14.StatePreActive)), value(t, getAttrs(t, x, v, id, attr.State), attr.State))

			it := kmiptest.Exec1(t, x, v, kmip20.OperationModifyAttribute, modifyPayload(v, id, kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(past)}, nil))
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			got := getAttrs(t, x, v, id, attr.State, attr.ActivationDate)
			assert.Equal(t, attr.Enum(uint32(kmip14.StateActive)), value(t, got, attr.State), "a reached Activation Date activates")
			assert.Equal(t, attr.Date(past), value(t, got, attr.ActivationDate))

			it = kmiptest.Exec1(t, x, v, kmip20.OperationModifyAttribute, modifyPayload(v, id, kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(future)}, nil))
			assert.Equal(t, message.ReasonFor(v, kmip20.ResultReasonWrongKeyLifecycleState), it.ResultReason, it.ResultMessage)
		})
	}
}

// TestModifyAttributeWithPlaceholder follows TL-M-3: a Modify Attribute
// without an identifier acts on the previous item's object.
func TestModifyAttributeWithPlaceholder(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_4, message.V2_1} {
		id := kmiptest.NewAESKey(t, x, v, kmiptest.Attr1{AttributeName: "x-VendorAttribute2", AttributeValue: int32(0)})
		r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v,
			kmiptest.Item{Operation: kmip20.OperationGetAttributes, RequestPayload: getAttributesPayload(v, id, "x-VendorAttribute2")},
			kmiptest.Item{Operation: kmip20.OperationModifyAttribute, RequestPayload: modifyPayload(v, "", kmiptest.Attr1{AttributeName: "x-VendorAttribute2", AttributeValue: int32(1)}, nil)}))
		require.Len(t, r.BatchItem, 2)
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus, r.BatchItem[1].ResultMessage)
		var uid kmiptest.UID
		kmiptest.Decode(t, r.BatchItem[1].ResponsePayload, &uid)
		assert.Equal(t, id, uid.UniqueIdentifier)
		assert.Equal(t, attr.Int(1), value(t, getAttrs(t, x, v, id, "x-VendorAttribute2"), "x-VendorAttribute2"))
	}
}
