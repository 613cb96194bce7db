package ops_test

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

type revocation struct {
	RevocationReasonCode kmip14.RevocationReasonCode
}

type revoke struct {
	UniqueIdentifier         string
	RevocationReason         revocation
	CompromiseOccurrenceDate time.Time `ttlv:",omitempty"`
}

func create(t *testing.T, x *server.Executor, v message.Version, extra ...kmiptest.Attr1) string {
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256, extra...)}))
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
	var id kmiptest.UID
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &id)
	return id.UniqueIdentifier
}

// step runs one operation and returns its result reason (0 on success).
func step(t *testing.T, x *server.Executor, v message.Version, op kmip20.Operation, payload any) kmip20.ResultReason {
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: op, RequestPayload: payload}))
	if r.BatchItem[0].ResultStatus == kmip14.ResultStatusSuccess {
		return 0
	}
	return r.BatchItem[0].ResultReason
}

func TestLifecycleThroughOperations(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_0, message.V1_4, message.V2_0, message.V2_1} {
		wrongState := kmip20.ResultReasonPermissionDenied
		if v.AtLeast(message.V2_1) { // the 2.0 test cases still answer Permission Denied
			wrongState = kmip20.ResultReasonWrongKeyLifecycleState
		}
		t.Run(v.String(), func(t *testing.T) {
			id := create(t, x, v)
			uid := kmiptest.UID{UniqueIdentifier: id}
			assert.Zero(t, step(t, x, v, kmip20.OperationActivate, uid), "Pre-Active -> Active")
			assert.Equal(t, wrongState, step(t, x, v, kmip20.OperationActivate, uid), "already Active")
			assert.Equal(t, wrongState, step(t, x, v, kmip20.OperationDestroy, uid), "Destroy of an Active key")
			assert.Zero(t, step(t, x, v, kmip20.OperationGet, uid), "an Active key can be fetched")
			assert.Zero(t, step(t, x, v, kmip20.OperationRevoke, revoke{UniqueIdentifier: id, RevocationReason: revocation{kmip14.RevocationReasonCodeCessationOfOperation}}), "Active -> Deactivated")
			assert.Zero(t, step(t, x, v, kmip20.OperationGet, uid), "a Deactivated key can still be fetched")
			assert.Zero(t, step(t, x, v, kmip20.OperationDestroy, uid), "Deactivated -> Destroyed")
			assert.Zero(t, step(t, x, v, kmip20.OperationRevoke, revoke{UniqueIdentifier: id, RevocationReason: revocation{kmip14.RevocationReasonCodeKeyCompromise},
				CompromiseOccurrenceDate: time.Unix(6, 0)}), "Destroyed -> Destroyed Compromised")
			assert.Equal(t, wrongState, step(t, x, v, kmip20.OperationActivate, uid))
		})
	}
}

func TestRevokeCompromiseNeedsItsDate(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	id := create(t, x, message.V1_4)
	assert.Equal(t, kmip20.ResultReasonMissingData,
		step(t, x, message.V1_4, kmip20.OperationRevoke, revoke{UniqueIdentifier: id, RevocationReason: revocation{kmip14.RevocationReasonCodeKeyCompromise}}))
	assert.Zero(t, step(t, x, message.V1_4, kmip20.OperationRevoke, revoke{UniqueIdentifier: id,
		RevocationReason: revocation{kmip14.RevocationReasonCodeKeyCompromise}, CompromiseOccurrenceDate: time.Now()}))
	assert.Zero(t, step(t, x, message.V1_4, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: id}), "Compromised -> Destroyed Compromised")
}

func TestDatesDriveTheState(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)

	active := create(t, x, message.V1_4, kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: past})
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, step(t, x, message.V1_4, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: active}),
		"an Activation Date in the past makes the key Active at once")

	later := create(t, x, message.V1_4, kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: future})
	assert.Zero(t, step(t, x, message.V1_4, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: later}),
		"an Activation Date in the future leaves it Pre-Active")

	ended := create(t, x, message.V1_4,
		kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: past},
		kmiptest.Attr1{AttributeName: "Deactivation Date", AttributeValue: past})
	assert.Zero(t, step(t, x, message.V1_4, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: ended}),
		"a Deactivation Date in the past makes it Deactivated, so it can be destroyed")
}
