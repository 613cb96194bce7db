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

func setPayload(id string, a kmiptest.Attr1) any {
	return struct {
		UniqueIdentifier string
		NewAttribute     ttlv.TTLV
	}{id, kmiptest.Wrapped2(kmip20.TagNewAttribute, a)}
}

func TestSetAttribute(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, v := range []message.Version{message.V2_0, message.V2_1} {
		t.Run(v.String(), func(t *testing.T) {
			sfx := "-" + v.String()
			id := kmiptest.NewAESKey(t, x, v, attrNamed("set-a"+sfx), attrNamed("set-b"+sfx))
			kmiptest.NewAESKey(t, x, v, attrNamed("set-other"+sfx))
			cases := []struct {
				name   string
				attr   kmiptest.Attr1
				reason kmip20.ResultReason
			}{
				{"absent: created", kmiptest.Attr1{AttributeName: attr.Description, AttributeValue: "first"}, 0},
				{"present: replaced", kmiptest.Attr1{AttributeName: attr.Description, AttributeValue: "second"}, 0},
				{"custom attribute", kmiptest.Attr1{AttributeName: "x-Product", AttributeValue: "VMware vSphere"}, 0},
				{"custom attribute again", kmiptest.Attr1{AttributeName: "x-Product", AttributeValue: "vSphere 8"}, 0},
				{"several instances", attrNamed("set-c" + sfx), kmip20.ResultReasonMultiValuedAttribute},
				{"read only", kmiptest.Attr1{AttributeName: attr.State, AttributeValue: kmip14.StateActive}, kmip20.ResultReasonAttributeReadOnly},
				{"wrong value type", kmiptest.Attr1{AttributeName: attr.Description, AttributeValue: int32(3)}, kmip20.ResultReasonInvalidAttributeValue},
				{"another object's Name", attrNamed("set-other" + sfx), kmip20.ResultReasonNonUniqueNameAttribute},
				{"Activation Date reached", kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(past)}, 0},
				{"Activation Date of an Active key", kmiptest.Attr1{AttributeName: attr.ActivationDate, AttributeValue: attr.Date(past)}, kmip20.ResultReasonWrongKeyLifecycleState},
			}
			for _, c := range cases {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationSetAttribute, setPayload(id, c.attr))
				if c.reason != 0 {
					assert.Equal(t, message.ReasonFor(v, c.reason), it.ResultReason, "%s: %s", c.name, it.ResultMessage)
					continue
				}
				require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", c.name, it.ResultMessage)
				assert.Len(t, attr.Children(it.ResponsePayload), 1, "%s: the answer holds the identifier only", c.name)
			}
			got := getAttrs(t, x, v, id, attr.Description, "x-Product", attr.State)
			assert.Equal(t, []string{attr.Description, "x-Product", attr.State}, namesOf(got))
			assert.Equal(t, attr.Text("second"), value(t, got, attr.Description))
			assert.Equal(t, attr.Text("vSphere 8"), value(t, got, "x-Product"))
			assert.Equal(t, attr.Enum(uint32(kmip14.StateActive)), value(t, got, attr.State))
		})
	}

	// Set Attribute does not exist in 1.x.
	id := kmiptest.NewAESKey(t, x, message.V1_4)
	it := kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationSetAttribute, setPayload(id, kmiptest.Attr1{AttributeName: attr.Description, AttributeValue: "d"}))
	assert.Equal(t, kmip20.ResultReasonOperationNotSupported, it.ResultReason)
}
