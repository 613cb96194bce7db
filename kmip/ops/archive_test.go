package ops_test

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

func TestArchiveAndRecover(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	name := kmiptest.Name{NameValue: "tape-42", NameType: kmip14.NameTypeUninterpretedTextString}
	id := create(t, x, v, kmiptest.Attr1{AttributeName: "Name", AttributeValue: name})
	uid := kmiptest.UID{UniqueIdentifier: id}
	locate := func(mask int32) []string {
		payload := struct {
			StorageStatusMask int32 `ttlv:",omitempty"`
			Attribute         []kmiptest.Attr1
		}{mask, []kmiptest.Attr1{{AttributeName: "Name", AttributeValue: name}}}
		r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationLocate, RequestPayload: payload}))
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
		var got struct{ UniqueIdentifier []string }
		kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &got)
		return got.UniqueIdentifier
	}

	require.Zero(t, step(t, x, v, kmip20.OperationArchive, uid))
	assert.Equal(t, kmip20.ResultReasonObjectArchived, step(t, x, v, kmip20.OperationGet, uid), "an archived key must be recovered first")
	assert.Equal(t, kmip20.ResultReasonObjectArchived, step(t, x, v, kmip20.OperationArchive, uid), "already archived")
	assert.Empty(t, locate(0), "Locate finds on-line objects by default")
	assert.Equal(t, []string{id}, locate(int32(kmip14.StorageStatusMaskArchivalStorage)), "and archived ones when asked")

	require.Zero(t, step(t, x, v, kmip20.OperationRecover, uid))
	assert.Zero(t, step(t, x, v, kmip20.OperationGet, uid), "usable again")
	assert.Equal(t, []string{id}, locate(0))
	assert.Equal(t, kmip20.ResultReasonIllegalOperation, step(t, x, v, kmip20.OperationRecover, uid), "not archived")
}
