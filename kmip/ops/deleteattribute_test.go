package ops_test

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// deleteRequest names what to delete: 1.x by name and index, 2.x by
// Current Attribute (current set) or Attribute Reference (name only).
type deleteRequest struct {
	name    string
	index   int32
	current *kmiptest.Attr1
}

func deletePayload(v message.Version, id string, d deleteRequest) any {
	if !v.AtLeast(message.V2_0) {
		return struct {
			UniqueIdentifier string
			AttributeName    string `ttlv:",omitempty"`
			AttributeIndex   int32  `ttlv:",omitempty"`
		}{id, d.name, d.index}
	}
	p := struct {
		UniqueIdentifier   string
		CurrentAttribute   ttlv.TTLV `ttlv:",omitempty"`
		AttributeReference ttlv.TTLV `ttlv:",omitempty"`
	}{UniqueIdentifier: id}
	switch {
	case d.current != nil:
		p.CurrentAttribute = kmiptest.Wrapped2(kmip20.TagCurrentAttribute, *d.current)
	case d.name != "":
		p.AttributeReference = kmiptest.Reference2(d.name)
	}
	return p
}

func TestDeleteAttribute(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			sfx := "-" + v.String()
			id := kmiptest.NewAESKey(t, x, v, attrNamed("del-a"+sfx), attrNamed("del-b"+sfx),
				kmiptest.Attr1{AttributeName: "x-attribute1", AttributeValue: "ModifiedValue1"},
				kmiptest.Attr1{AttributeName: "x-Multi", AttributeValue: "one"},
				kmiptest.Attr1{AttributeName: "x-Multi", AttributeValue: "two"},
				kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: "ops"})
			readOnly := failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)
			b := attrNamed("del-b" + sfx)
			cases := []struct {
				name    string
				req     deleteRequest
				reason  kmip20.ResultReason
				deleted kmiptest.Attr1 // what a 1.x answer echoes
			}{
				{"custom attribute (SKFF-M-9)", deleteRequest{name: "x-attribute1"}, 0,
					kmiptest.Attr1{AttributeName: "x-attribute1", AttributeValue: attr.Text("ModifiedValue1")}},
				{"custom attribute again", deleteRequest{name: "x-attribute1"}, failure(v, kmip20.ResultReasonAttributeNotFound, kmip20.ResultReasonItemNotFound), kmiptest.Attr1{}},
				{"second Name", deleteRequest{name: attr.Name, index: 1, current: &b}, 0, kmiptest.Attr1{AttributeName: attr.Name, AttributeIndex: 1}},
				{"single-instance attribute", deleteRequest{name: attr.ContactInformation, current: &kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: "ops"}}, 0,
					kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: attr.Text("ops")}},
				{"State", deleteRequest{name: attr.State}, readOnly, kmiptest.Attr1{}},
				{"Cryptographic Algorithm", deleteRequest{name: attr.CryptographicAlgorithm}, readOnly, kmiptest.Attr1{}},
				{"Activation Date", deleteRequest{name: attr.ActivationDate}, readOnly, kmiptest.Attr1{}},
			}
			if v.AtLeast(message.V2_0) {
				cases = append(cases, []struct {
					name    string
					req     deleteRequest
					reason  kmip20.ResultReason
					deleted kmiptest.Attr1
				}{
					{"Current Attribute not set", deleteRequest{current: &kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: "never"}}},
						kmip20.ResultReasonAttributeInstanceNotFound, kmiptest.Attr1{}},
					{"every instance by reference", deleteRequest{name: "x-Multi"}, 0, kmiptest.Attr1{}},
					{"nothing named", deleteRequest{}, kmip20.ResultReasonMissingData, kmiptest.Attr1{}},
				}...)
			} else {
				cases = append(cases, []struct {
					name    string
					req     deleteRequest
					reason  kmip20.ResultReason
					deleted kmiptest.Attr1
				}{
					{"index not set", deleteRequest{name: "x-Multi", index: 4}, kmip20.ResultReasonItemNotFound, kmiptest.Attr1{}},
					{"second custom instance", deleteRequest{name: "x-Multi", index: 1}, 0, kmiptest.Attr1{AttributeName: "x-Multi", AttributeIndex: 1, AttributeValue: attr.Text("two")}},
					{"first custom instance", deleteRequest{name: "x-Multi"}, 0, kmiptest.Attr1{AttributeName: "x-Multi", AttributeValue: attr.Text("one")}},
					{"unknown name", deleteRequest{name: "Frobnication"}, kmip20.ResultReasonInvalidField, kmiptest.Attr1{}},
					{"no name", deleteRequest{}, kmip20.ResultReasonMissingData, kmiptest.Attr1{}},
				}...)
			}
			for _, c := range cases {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationDeleteAttribute, deletePayload(v, id, c.req))
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
				assert.Equal(t, c.deleted.AttributeName, got.Name, c.name)
				assert.Equal(t, c.deleted.AttributeIndex, got.Index, c.name)
				if c.deleted.AttributeValue != nil {
					assert.Equal(t, c.deleted.AttributeValue, got.Value, c.name)
				}
			}
			got := getAttrs(t, x, v, id, attr.Name, "x-attribute1", "x-Multi", attr.ContactInformation, attr.State)
			assert.Equal(t, []string{attr.Name, attr.State}, namesOf(got))
			n, _ := got[0].NameValue()
			assert.Equal(t, "del-a"+sfx, n.NameValue)

			// the deleted Name is free again
			other := kmiptest.NewAESKey(t, x, v)
			it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, other, attrNamed("del-b"+sfx)))
			assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
		})
	}
}
