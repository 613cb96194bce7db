package server_test

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

// first2xTag is the first tag that KMIP 2.0 added (Attributes); every 1.x
// tag is below it.
const first2xTag = kmip20.TagAttributes

// tags lists every tag in a TTLV tree.
func tags(t ttlv.TTLV) []ttlv.Tag {
	out := []ttlv.Tag{t.Tag()}
	if t.Type() == ttlv.TypeStructure {
		for _, c := range attr.Children(t) {
			out = append(out, tags(c)...)
		}
	}
	return out
}

func TestDiscoverVersions(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	type versions struct{ ProtocolVersion []message.Version }
	tests := []struct {
		name   string
		header message.Version
		ask    []message.Version
		want   []message.Version
	}{
		{"empty list means all, newest first (vCenter: 1.1 header)", message.V1_1, nil, message.Supported},
		{"client order kept, unknown dropped", message.V1_4, []message.Version{message.V1_2, {Major: 1, Minor: 9}, message.V2_0}, []message.Version{message.V1_2, message.V2_0}},
		{"nothing in common", message.V2_0, []message.Version{{Major: 3, Minor: 0}}, nil},
		{"answered under an unsupported header version", message.Version{Major: 1, Minor: 7}, nil, message.Supported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, tt.header, kmiptest.Item{Operation: kmip20.OperationDiscoverVersions, RequestPayload: versions{tt.ask}}))
			it := r.BatchItem[0]
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			var got versions
			require.NoError(t, ttlv.Unmarshal(it.ResponsePayload, &got))
			assert.Equal(t, tt.want, got.ProtocolVersion)
			assert.Equal(t, message.Negotiate(tt.header), r.ResponseHeader.ProtocolVersion)
		})
	}
}

func TestUnsupportedVersionRefusesOtherOperations(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.Version{Major: 1, Minor: 7}, kmiptest.Item{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}}))
	assert.Equal(t, message.V1_4, r.ResponseHeader.ProtocolVersion)
	assert.Equal(t, kmip20.ResultReasonInvalidMessage, r.BatchItem[0].ResultReason)
}

func TestQueryPerVersion(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	type query struct{ QueryFunction []kmip14.QueryFunction }
	type answer struct {
		Operation            []kmip20.Operation
		ObjectType           []kmip14.ObjectType
		VendorIdentification string
	}
	all := query{[]kmip14.QueryFunction{kmip14.QueryFunctionQueryOperations, kmip14.QueryFunctionQueryObjects, kmip14.QueryFunctionQueryServerInformation}}
	for _, v := range message.Supported {
		t.Run(v.String(), func(t *testing.T) {
			r, raw := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationQuery, RequestPayload: all}))
			it := r.BatchItem[0]
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			var got answer
			require.NoError(t, ttlv.Unmarshal(it.ResponsePayload, &got))
			assert.Contains(t, got.Operation, kmip20.OperationCreate)
			assert.Contains(t, got.Operation, kmip20.OperationGet)
			assert.Contains(t, got.Operation, kmip20.OperationDestroy)
			assert.Contains(t, got.Operation, kmip20.OperationQuery)
			if v == message.V1_0 {
				assert.NotContains(t, got.Operation, kmip20.OperationDiscoverVersions, "Discover Versions is a 1.1 operation")
			} else {
				assert.Contains(t, got.Operation, kmip20.OperationDiscoverVersions)
			}
			assert.Contains(t, got.ObjectType, kmip14.ObjectTypeSymmetricKey)
			if v.AtLeast(message.V2_0) {
				assert.NotContains(t, got.ObjectType, kmip14.ObjectTypeTemplate, "Template is gone in 2.0")
			}
			assert.Equal(t, "kmip-adapter", got.VendorIdentification)
			if !v.AtLeast(message.V2_0) {
				for _, tag := range tags(raw) {
					assert.Less(t, uint32(tag), uint32(first2xTag), "a %s client must not see the 2.x tag %s", v, tag)
				}
			}
		})
	}
}

func TestOneXResponsesCarryNoTwoXTags(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_0, message.V1_1, message.V1_2, message.V1_3, message.V1_4} {
		r, raw := kmiptest.Execute(t, x, kmiptest.Request(t, v,
			kmiptest.Item{Operation: kmip20.OperationCreate, UniqueBatchItemID: []byte{1}, RequestPayload: kmiptest.CreateAES(v, 256)},
			kmiptest.Item{Operation: kmip20.OperationGet, UniqueBatchItemID: []byte{2}, RequestPayload: struct{}{}},
		))
		require.Len(t, r.BatchItem, 2)
		for _, tag := range tags(raw) {
			assert.Less(t, uint32(tag), uint32(first2xTag), "a %s client must not see the 2.x tag %s", v, tag)
		}
	}
}
