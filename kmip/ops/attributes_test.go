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
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// attrTestTime is a date for attribute values.
var attrTestTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// attrVersions are the versions the attribute tests run in: the oldest,
// the newest 1.x, and both 2.x.
var attrVersions = []message.Version{message.V1_0, message.V1_4, message.V2_0, message.V2_1}

// failure is the Result Reason a client of version v gets for a 2.x reason
// (the 1.x fallback below 2.0), as message.ReasonFor maps it.
func failure(v message.Version, r2, r1 kmip20.ResultReason) kmip20.ResultReason {
	if v.AtLeast(message.V2_0) {
		return r2
	}
	return r1
}

// attributesIn reads the attributes of a Get Attributes answer: the 1.x
// Attribute items of the payload, or the children of its 2.x Attributes.
func attributesIn(t *testing.T, v message.Version, payload ttlv.TTLV) attr.List {
	t.Helper()
	var list attr.List
	for _, c := range attr.Children(payload) {
		switch {
		case c.Tag() == kmip14.TagAttribute && !v.AtLeast(message.V2_0):
			a, err := message.DecodeAttribute(c)
			require.NoError(t, err)
			list = append(list, a)
		case c.Tag() == kmip20.TagAttributes && v.AtLeast(message.V2_0):
			for _, item := range attr.Children(c) {
				a, err := message.DecodeAttribute(item)
				require.NoError(t, err)
				list = append(list, a)
			}
		case c.Tag() == kmip14.TagUniqueIdentifier:
		default:
			t.Fatalf("unexpected %s in a %s Get Attributes answer", c.Tag(), v)
		}
	}
	return list
}

func namesOf(l attr.List) []string {
	out := []string{}
	for _, a := range l {
		out = append(out, a.Name)
	}
	return out
}

// getAttrs runs Get Attributes for the named attributes (none: all) in
// version v and returns what it answered.
func getAttrs(t *testing.T, x *server.Executor, v message.Version, id string, names ...string) attr.List {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributes, getAttributesPayload(v, id, names...))
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var uid kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &uid)
	require.Equal(t, id, uid.UniqueIdentifier)
	return attributesIn(t, v, it.ResponsePayload)
}

func getAttributesPayload(v message.Version, id string, names ...string) any {
	if v.AtLeast(message.V2_0) {
		refs := make([]ttlv.TTLV, len(names))
		for i, n := range names {
			refs[i] = kmiptest.Reference2(n)
		}
		return struct {
			UniqueIdentifier   string `ttlv:",omitempty"`
			AttributeReference []ttlv.TTLV
		}{id, refs}
	}
	return struct {
		UniqueIdentifier string `ttlv:",omitempty"`
		AttributeName    []string
	}{id, names}
}

func value(t *testing.T, l attr.List, name string) ttlv.TTLV {
	t.Helper()
	a, ok := l.Get(name)
	require.True(t, ok, "%s missing", name)
	return a.Value
}

// TestCreateChecksClientAttributes runs checkClientAttributes through
// Create: what a client may not supply, and the 1.x fallbacks.
func TestCreateChecksClientAttributes(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	name := func(n string) kmiptest.Attr1 {
		return kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: n, NameType: kmip14.NameTypeUninterpretedTextString}}
	}
	for _, v := range attrVersions {
		cases := []struct {
			name   string
			extra  []kmiptest.Attr1
			reason kmip20.ResultReason // 0: accepted
		}{
			{"server-only State", []kmiptest.Attr1{{AttributeName: attr.State, AttributeValue: kmip14.StateActive}},
				failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)},
			{"server-only Last Change Date", []kmiptest.Attr1{{AttributeName: attr.LastChangeDate, AttributeValue: attr.Date(attrTestTime)}},
				failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)},
			{"server custom attribute", []kmiptest.Attr1{{AttributeName: "y-Mine", AttributeValue: "v"}},
				failure(v, kmip20.ResultReasonAttributeReadOnly, kmip20.ResultReasonPermissionDenied)},
			{"wrong value type", []kmiptest.Attr1{{AttributeName: attr.ContactInformation, AttributeValue: int32(5)}},
				failure(v, kmip20.ResultReasonInvalidAttributeValue, kmip20.ResultReasonInvalidField)},
			{"second single-instance attribute", []kmiptest.Attr1{{AttributeName: attr.ContactInformation, AttributeValue: "a"}, {AttributeName: attr.ContactInformation, AttributeValue: "b"}},
				failure(v, kmip20.ResultReasonAttributeSingleValued, kmip20.ResultReasonIllegalOperation)},
			{"two Names", []kmiptest.Attr1{name("create-" + v.String() + "-a"), name("create-" + v.String() + "-b")}, 0},
			{"custom attributes", []kmiptest.Attr1{{AttributeName: "x-One", AttributeValue: int32(1)}, {AttributeName: "x-One", AttributeValue: "two"}}, 0},
		}
		if !v.AtLeast(message.V2_0) {
			cases = append(cases, struct {
				name   string
				extra  []kmiptest.Attr1
				reason kmip20.ResultReason
			}{"unknown name", []kmiptest.Attr1{{AttributeName: "Frobnication Date", AttributeValue: attr.Date(attrTestTime)}}, kmip20.ResultReasonInvalidField})
		}
		for _, c := range cases {
			t.Run(v.String()+"/"+c.name, func(t *testing.T) {
				it := kmiptest.Exec1(t, x, v, kmip20.OperationCreate, kmiptest.CreateAES(v, 256, c.extra...))
				if c.reason == 0 {
					require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
					return
				}
				assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
				assert.Equal(t, c.reason, it.ResultReason, it.ResultMessage)
			})
		}
	}

	// A 2.x Attributes structure holding a tag that is no attribute.
	it := kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationCreate, struct {
		ObjectType kmip14.ObjectType
		Attributes ttlv.TTLV
	}{kmip14.ObjectTypeSymmetricKey, attr.Structure(kmip20.TagAttributes,
		attr.Retag(attr.Enum(uint32(kmip14.CryptographicAlgorithmAES)), kmip14.TagCryptographicAlgorithm),
		attr.Retag(attr.Int(256), kmip14.TagCryptographicLength),
		attr.Retag(attr.Enum(1), kmip14.TagBlockCipherMode))})
	assert.Equal(t, kmip20.ResultReasonUnsupportedAttribute, it.ResultReason, it.ResultMessage)

	// The 1.0 vectors' spelling of names is understood.
	id := kmiptest.NewAESKey(t, x, message.V1_0, kmiptest.Attr1{AttributeName: "Contact   Information", AttributeValue: "ops"})
	got := getAttrs(t, x, message.V1_0, id, attr.ContactInformation)
	assert.Equal(t, []string{attr.ContactInformation}, namesOf(got))
}
