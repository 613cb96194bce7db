package ops_test

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

type check struct {
	UniqueIdentifier       string
	CryptographicUsageMask kmip14.CryptographicUsageMask `ttlv:",omitempty"`
}

func TestCheck(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, tt := range []struct {
		v                  message.Version
		mismatch, notFound kmip20.ResultReason
	}{
		{message.V1_4, kmip20.ResultReasonPermissionDenied, kmip20.ResultReasonItemNotFound},
		{message.V2_1, kmip20.ResultReasonIncompatibleCryptographicUsageMask, kmip20.ResultReasonObjectNotFound},
	} {
		t.Run(tt.v.String(), func(t *testing.T) {
			id := create(t, x, tt.v) // usage mask Encrypt|Decrypt
			assert.Zero(t, step(t, x, tt.v, kmip20.OperationCheck, check{UniqueIdentifier: id}))
			assert.Zero(t, step(t, x, tt.v, kmip20.OperationCheck, check{UniqueIdentifier: id, CryptographicUsageMask: kmip14.CryptographicUsageMaskEncrypt}))
			assert.Equal(t, tt.mismatch, step(t, x, tt.v, kmip20.OperationCheck, check{UniqueIdentifier: id, CryptographicUsageMask: kmip14.CryptographicUsageMaskSign}))
			assert.Equal(t, tt.notFound, step(t, x, tt.v, kmip20.OperationCheck, check{UniqueIdentifier: "missing"}))
		})
	}
}

func TestInteropIsAcceptedIn2xOnly(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	begin := struct {
		InteropFunction   uint32 `ttlv:",enum"`
		InteropIdentifier string
	}{1, "BL-M-1-21"}
	assert.Zero(t, step(t, x, message.V2_1, kmip20.OperationInterop, begin))
	assert.Equal(t, kmip20.ResultReasonOperationNotSupported, step(t, x, message.V1_4, kmip20.OperationInterop, begin))
}

func TestLogIsAccepted(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	assert.Zero(t, step(t, x, message.V2_1, kmip20.OperationLog, struct{ LogMessage string }{"Registered a symmetric key."}))
	assert.Equal(t, kmip20.ResultReasonOperationNotSupported, step(t, x, message.V1_4, kmip20.OperationLog, struct{ LogMessage string }{"x"}))
}
