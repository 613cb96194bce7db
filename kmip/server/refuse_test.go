package server_test

import (
	"context"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
)

func decodeResponse(t *testing.T, out []byte) kmiptest.Response {
	t.Helper()
	var r kmiptest.Response
	require.NoError(t, ttlv.Unmarshal(out, &r))
	require.Equal(t, int(r.ResponseHeader.BatchCount), len(r.BatchItem))
	return r
}

// A refused client's first request is answered item by item with
// Authentication Not Successful, in its version, echoing the batch ids.
func TestRefuseAnswersEveryItem(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	msg := kmiptest.Request(t, message.V1_1,
		kmiptest.Item{Operation: kmip20.OperationDiscoverVersions, UniqueBatchItemID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, RequestPayload: struct{}{}},
		kmiptest.Item{Operation: kmip20.OperationQuery, UniqueBatchItemID: []byte{9}, RequestPayload: struct{}{}})
	r := decodeResponse(t, x.Refuse(msg, message.Errorf(kmip20.ResultReasonAuthenticationNotSuccessful, "client certificate is not registered")))
	assert.Equal(t, message.V1_1, r.ResponseHeader.ProtocolVersion)
	require.Len(t, r.BatchItem, 2)
	for i, id := range [][]byte{{1, 2, 3, 4, 5, 6, 7, 8}, {9}} {
		assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[i].ResultStatus)
		assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful, r.BatchItem[i].ResultReason)
		assert.Equal(t, id, r.BatchItem[i].UniqueBatchItemID)
		assert.Contains(t, r.BatchItem[i].ResultMessage, "not registered")
	}
	// Garbage still gets an answer.
	r = decodeResponse(t, x.Refuse([]byte{1, 2, 3}, message.Errorf(kmip20.ResultReasonAuthenticationNotSuccessful, "x")))
	assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful, r.BatchItem[0].ResultReason)
}

func TestAuthenticateAndAllowedOperations(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	var seen []ttlv.TTLV
	refuse := ops.Client{Tenant: kmiptest.Tenant, Authenticate: func(_ context.Context, a ttlv.TTLV) error {
		seen = append(seen, a)
		return message.Errorf(kmip20.ResultReasonAuthenticationNotSuccessful, "wrong username or password")
	}}
	msg := kmiptest.Request(t, message.V1_4,
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)},
		kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}})
	r := decodeResponse(t, x.ExecuteFor(context.Background(), refuse, msg))
	require.Len(t, r.BatchItem, 2)
	for _, it := range r.BatchItem {
		assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful, it.ResultReason)
	}
	assert.Len(t, seen, 1, "one check per request")

	limited := ops.Client{Tenant: kmiptest.Tenant, Policy: ops.Policy{AllowedOperations: map[message.Operation]bool{kmip20.OperationCreate: true}}}
	r = decodeResponse(t, x.ExecuteFor(context.Background(), limited, kmiptest.RequestWith(t,
		kmiptest.Header{ProtocolVersion: message.V1_4, BatchErrorContinuationOption: message.BatchErrorContinue},
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)},
		kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}})))
	require.Len(t, r.BatchItem, 2)
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus)
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, r.BatchItem[1].ResultReason)
	assert.Contains(t, r.BatchItem[1].ResultMessage, "not allowed")
}
