package ops_test

import (
	"encoding/binary"
	"math/big"
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
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// addPayload is an Add Attribute request in version v's form.
func addPayload(v message.Version, id string, a kmiptest.Attr1) any {
	if v.AtLeast(message.V2_0) {
		return struct {
			UniqueIdentifier string
			NewAttribute     ttlv.TTLV
		}{id, kmiptest.Wrapped2(kmip20.TagNewAttribute, a)}
	}
	return struct {
		UniqueIdentifier string
		Attribute        kmiptest.Attr1
	}{id, a}
}

// echoed is the attribute a 1.x Add, Modify or Delete Attribute answer
// carries.
func echoed(t *testing.T, payload ttlv.TTLV) attr.Attribute {
	t.Helper()
	for _, c := range attr.Children(payload) {
		if c.Tag() == kmip14.TagAttribute {
			a, err := message.DecodeAttribute(c)
			require.NoError(t, err)
			return a
		}
	}
	t.Fatalf("no Attribute in %s", payload)
	return attr.Attribute{}
}

func attrNamed(n string) kmiptest.Attr1 {
	return kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: n, NameType: kmip14.NameTypeUninterpretedTextString}}
}

func TestAddAttribute(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			id := kmiptest.NewAESKey(t, x, v, attrNamed("add-"+v.String()))
			other := kmiptest.NewAESKey(t, x, v, attrNamed("add-other-"+v.String()))
			link := struct {
				LinkType               kmip14.LinkType
				LinkedObjectIdentifier string
			}{kmip14.LinkTypeNextLink, other}
			readOnly := failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)
			cases := []struct {
				name   string
				attr   kmiptest.Attr1
				reason kmip20.ResultReason // 0: success
				index  int32               // the index a 1.x answer gives
			}{
				{"custom attribute", kmiptest.Attr1{AttributeName: "x-Vendor", AttributeValue: "VMware, Inc."}, 0, 0},
				{"second instance of a custom attribute", kmiptest.Attr1{AttributeName: "x-Vendor", AttributeValue: "again"}, 0, 1},
				{"Link (AX-M-1)", kmiptest.Attr1{AttributeName: attr.Link, AttributeValue: link}, 0, 0},
				{"second Name", attrNamed("add-second-" + v.String()), 0, 1},
				{"single-instance attribute", kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: "ops"}, 0, 0},
				{"single-instance attribute again (BL-M-5)", kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: "ops2"},
					failure(v, kmip20.ResultReasonAttributeSingleValued, kmip20.ResultReasonIllegalOperation), 0},
				{"State", kmiptest.Attr1{AttributeName: attr.State, AttributeValue: kmip14.StateActive}, readOnly, 0},
				{"Cryptographic Usage Mask", kmiptest.Attr1{AttributeName: attr.CryptographicUsageMask, AttributeValue: int32(4)}, readOnly, 0},
				{"server custom attribute", kmiptest.Attr1{AttributeName: "y-Server", AttributeValue: "v"}, readOnly, 0},
				{"wrong value type", kmiptest.Attr1{AttributeName: attr.ObjectGroup, AttributeValue: int32(1)},
					failure(v, kmip20.ResultReasonInvalidAttributeValue, kmip20.ResultReasonInvalidField), 0},
				{"Name of this object (BL-M-8)", attrNamed("add-" + v.String()),
					failure(v, kmip20.ResultReasonNonUniqueNameAttribute, kmip20.ResultReasonIllegalOperation), 0},
				{"Name of another object", attrNamed("add-other-" + v.String()),
					failure(v, kmip20.ResultReasonNonUniqueNameAttribute, kmip20.ResultReasonIllegalOperation), 0},
				{"Activation Date reached", kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(past)}, 0, 0},
				{"Activation Date of an Active key", kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(past)},
					message.ReasonFor(v, kmip20.ResultReasonWrongKeyLifecycleState), 0},
			}
			if !v.AtLeast(message.V2_0) {
				cases = append(cases,
					struct {
						name   string
						attr   kmiptest.Attr1
						reason kmip20.ResultReason
						index  int32
					}{"unknown name", kmiptest.Attr1{AttributeName: "Frobnication", AttributeValue: "v"}, kmip20.ResultReasonInvalidField, 0},
					struct {
						name   string
						attr   kmiptest.Attr1
						reason kmip20.ResultReason
						index  int32
					}{"an index", kmiptest.Attr1{AttributeName: "x-Indexed", AttributeIndex: 3, AttributeValue: "v"}, kmip20.ResultReasonInvalidField, 0},
					struct {
						name   string
						attr   kmiptest.Attr1
						reason kmip20.ResultReason
						index  int32
					}{"vendor attribute 1.x cannot name", kmiptest.Attr1{AttributeName: "acme-Thing", AttributeValue: "v"}, kmip20.ResultReasonInvalidField, 0})
			}
			for _, c := range cases {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, id, c.attr))
				if c.reason != 0 {
					assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus, c.name)
					assert.Equal(t, c.reason, it.ResultReason, "%s: %s", c.name, it.ResultMessage)
					continue
				}
				require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", c.name, it.ResultMessage)
				var uid kmiptest.UID
				kmiptest.Decode(t, it.ResponsePayload, &uid)
				assert.Equal(t, id, uid.UniqueIdentifier, c.name)
				if v.AtLeast(message.V2_0) {
					assert.Len(t, attr.Children(it.ResponsePayload), 1, "%s: a 2.x answer holds the identifier only", c.name)
					continue
				}
				got := echoed(t, it.ResponsePayload)
				assert.Equal(t, c.attr.AttributeName, got.Name, c.name)
				assert.Equal(t, c.index, got.Index, c.name)
			}

			got := getAttrs(t, x, v, id, "x-Vendor", attr.Link, attr.Name, attr.ContactInformation, attr.State)
			assert.Equal(t, []string{"x-Vendor", "x-Vendor", attr.Link, attr.Name, attr.Name, attr.ContactInformation, attr.State}, namesOf(got))
			assert.Equal(t, attr.Text("ops"), value(t, got, attr.ContactInformation))
			assert.Equal(t, attr.Enum(uint32(object.StateActive)), value(t, got, attr.State), "an Activation Date already reached activates the key")
		})
	}

	// 2.x: a New Attribute holding a tag that is no attribute, or two.
	id := kmiptest.NewAESKey(t, x, message.V2_1)
	for name, newAttr := range map[string]ttlv.TTLV{
		"no attribute": attr.Structure(kmip20.TagNewAttribute, attr.Retag(attr.Enum(1), kmip14.TagBlockCipherMode)),
		"two":          attr.Structure(kmip20.TagNewAttribute, attr.Retag(attr.Text("a"), kmip14.TagObjectGroup), attr.Retag(attr.Text("b"), kmip14.TagObjectGroup)),
	} {
		it := kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationAddAttribute, struct {
			UniqueIdentifier string
			NewAttribute     ttlv.TTLV
		}{id, newAttr})
		want := kmip20.ResultReasonUnsupportedAttribute
		if name == "two" {
			want = kmip20.ResultReasonInvalidField
		}
		assert.Equal(t, want, it.ResultReason, "%s: %s", name, it.ResultMessage)
	}
	it := kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationAddAttribute, addPayload(message.V1_4, "no-such-object", kmiptest.Attr1{AttributeName: "x-A", AttributeValue: "v"}))
	assert.Equal(t, kmip20.ResultReasonItemNotFound, it.ResultReason)
}

// TestAttributeChangesSetLastChangeDate: every change moves the Last
// Change Date.
func TestAttributeChangesSetLastChangeDate(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	ids := map[message.Version]string{}
	for _, v := range []message.Version{message.V1_4, message.V2_1} {
		ids[v] = kmiptest.NewAESKey(t, x, v)
	}
	time.Sleep(1100 * time.Millisecond) // dates have a resolution of one second
	for v, id := range ids {
		it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, id, kmiptest.Attr1{AttributeName: "x-Touched", AttributeValue: "yes"}))
		require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
		got := getAttrs(t, x, v, id, attr.InitialDate, attr.LastChangeDate)
		initial, _ := got.Get(attr.InitialDate)
		changed, _ := got.Get(attr.LastChangeDate)
		i, err := initial.Date()
		require.NoError(t, err)
		c, err := changed.Date()
		require.NoError(t, err)
		assert.True(t, c.After(i), "%s: Last Change Date %s after Initial Date %s", v, c, i)
	}
}

// customValues are custom attribute values of every TTLV type, tagged
// Attribute Value as a client sends them.
func customValues() map[string]ttlv.TTLV {
	interval := make(ttlv.TTLV, 16)
	copy(interval, attr.Int(0)[:3])
	interval[3] = byte(ttlv.TypeInterval)
	interval[7] = 4
	binary.BigEndian.PutUint32(interval[8:], 86400)
	big1, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	return map[string]ttlv.TTLV{
		"Text":      attr.Text("VMware vSphere"),
		"Integer":   attr.Int(-42),
		"Long":      attr.Long(1 << 40),
		"Big":       attr.BigInt(big1),
		"Enum":      attr.Enum(0x80000001),
		"Bool":      attr.Bool(true),
		"Bytes":     attr.Bytes([]byte{0, 1, 2, 0xff}),
		"Date":      attr.Date(attrTestTime),
		"Interval":  interval,
		"Structure": attr.Structure(kmip14.TagAttributeValue, attr.Retag(attr.Text("inner"), kmip14.TagNameValue), attr.Retag(attr.Int(7), kmip14.TagCryptographicLength)),
	}
}

// TestCustomAttributesKeepTheirType: a custom attribute of each TTLV type
// comes back from Get Attributes byte for byte, in the version that added
// it and in the other major version.
func TestCustomAttributesKeepTheirType(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_0, message.V1_4, message.V2_1} {
		t.Run(v.String(), func(t *testing.T) {
			id := kmiptest.NewAESKey(t, x, v)
			values := customValues()
			for kind, val := range values {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, id, kmiptest.Attr1{AttributeName: "x-" + kind, AttributeValue: val}))
				require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", kind, it.ResultMessage)
				if !v.AtLeast(message.V2_0) {
					assert.Equal(t, []byte(val), []byte(echoed(t, it.ResponsePayload).Value), "%s: the Add answer", kind)
				}
			}
			for _, reader := range []message.Version{v, message.V1_4, message.V2_1} {
				for kind, val := range values {
					got := getAttrs(t, x, reader, id, "x-"+kind)
					require.Len(t, got, 1, kind)
					assert.Equal(t, []byte(val), []byte(got[0].Value), "%s read in %s", kind, reader)
				}
			}
		})
	}
}
