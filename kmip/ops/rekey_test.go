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

type rekeyWithOffset struct {
	UniqueIdentifier string
	Offset           time.Duration
}

func keyMaterial(t *testing.T, x *server.Executor, v message.Version, id string) []byte {
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: id}}))
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
	var got struct {
		SymmetricKey struct {
			KeyBlock struct {
				KeyValue            struct{ KeyMaterial []byte }
				CryptographicLength int32
			}
		}
	}
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &got)
	return got.SymmetricKey.KeyBlock.KeyValue.KeyMaterial
}

func TestReKeyMakesALinkedReplacement(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_2, message.V2_0} {
		t.Run(v.String(), func(t *testing.T) {
			old := create(t, x, v, kmiptest.Attr1{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: "disk-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}})
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationReKey, RequestPayload: kmiptest.UID{UniqueIdentifier: old}}))
			require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
			var repl kmiptest.UID
			kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &repl)
			require.NotEqual(t, old, repl.UniqueIdentifier)

			a, b := keyMaterial(t, x, v, old), keyMaterial(t, x, v, repl.UniqueIdentifier)
			assert.Len(t, b, len(a), "same length")
			assert.NotEqual(t, a, b, "new material")
			assert.Zero(t, step(t, x, v, kmip20.OperationDestroy, repl), "without Offset the replacement is Pre-Active")
		})
	}
}

func TestReKeyDatesFollowTheSpecification(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	rekey := func(payload any) kmiptest.UID {
		r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationReKey, RequestPayload: payload}))
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
		var repl kmiptest.UID
		kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &repl)
		return repl
	}

	old := create(t, x, v)
	require.Zero(t, step(t, x, v, kmip20.OperationActivate, kmiptest.UID{UniqueIdentifier: old}))
	repl := rekey(kmiptest.UID{UniqueIdentifier: old})
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, step(t, x, v, kmip20.OperationDestroy, repl),
		"without Offset the replacement copies the Activation Date: an Active key's replacement is Active")

	old = create(t, x, v)
	require.Zero(t, step(t, x, v, kmip20.OperationActivate, kmiptest.UID{UniqueIdentifier: old}))
	repl = rekey(rekeyWithOffset{UniqueIdentifier: old, Offset: 0})
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, step(t, x, v, kmip20.OperationDestroy, repl), "an Offset of 0 activates the replacement now")
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, step(t, x, v, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: old}),
		"the old key is left as it was (Active)")

	old = create(t, x, v)
	repl = rekey(rekeyWithOffset{UniqueIdentifier: old, Offset: time.Hour})
	assert.Zero(t, step(t, x, v, kmip20.OperationDestroy, repl), "an Offset in the future leaves the replacement Pre-Active")
}

func TestReKeyRefusesDestroyedKeys(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	old := create(t, x, message.V2_0)
	require.Zero(t, step(t, x, message.V2_0, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: old}))
	assert.Equal(t, kmip20.ResultReasonObjectDestroyed, step(t, x, message.V2_0, kmip20.OperationReKey, kmiptest.UID{UniqueIdentifier: old}))
}
