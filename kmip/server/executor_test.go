package server_test

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

func TestCreateGetDestroyInEveryVersion(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range message.Supported {
		t.Run(v.String(), func(t *testing.T) {
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, UniqueBatchItemID: []byte("item-001"), RequestPayload: kmiptest.CreateAES(v, 256)}))
			require.Equal(t, v, r.ResponseHeader.ProtocolVersion, "answer in the request's version")
			it := r.BatchItem[0]
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			assert.Equal(t, []byte("item-001"), it.UniqueBatchItemID, "Unique Batch Item ID echoed")
			assert.Equal(t, kmip20.OperationCreate, it.Operation)
			var created kmiptest.UID
			require.NoError(t, ttlv.Unmarshal(it.ResponsePayload, &created))
			require.NotEmpty(t, created.UniqueIdentifier)

			r, _ = kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: created.UniqueIdentifier}}))
			it = r.BatchItem[0]
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			var got struct {
				ObjectType       kmip14.ObjectType
				UniqueIdentifier string
				SymmetricKey     struct {
					KeyBlock struct {
						KeyFormatType          kmip14.KeyFormatType
						KeyValue               struct{ KeyMaterial []byte }
						CryptographicAlgorithm kmip14.CryptographicAlgorithm
						CryptographicLength    int32
					}
				}
			}
			require.NoError(t, ttlv.Unmarshal(it.ResponsePayload, &got))
			kb := got.SymmetricKey.KeyBlock
			assert.Equal(t, kmip14.KeyFormatTypeRaw, kb.KeyFormatType)
			assert.Equal(t, kmip14.CryptographicAlgorithmAES, kb.CryptographicAlgorithm)
			assert.Len(t, kb.KeyValue.KeyMaterial, int(kb.CryptographicLength)/8)
			assert.NotEqual(t, make([]byte, len(kb.KeyValue.KeyMaterial)), kb.KeyValue.KeyMaterial, "real key material, not zeros")

			r2, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: created.UniqueIdentifier}}))
			var again struct {
				SymmetricKey struct {
					KeyBlock struct{ KeyValue struct{ KeyMaterial []byte } }
				}
			}
			kmiptest.Decode(t, r2.BatchItem[0].ResponsePayload, &again)
			assert.Equal(t, kb.KeyValue.KeyMaterial, again.SymmetricKey.KeyBlock.KeyValue.KeyMaterial, "the same key every time")

			r, _ = kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: kmiptest.UID{UniqueIdentifier: created.UniqueIdentifier}}))
			require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)

			r, _ = kmiptest.Execute(t, x, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: created.UniqueIdentifier}}))
			assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
			want := kmip20.ResultReasonItemNotFound
			if v.AtLeast(message.V2_0) {
				want = kmip20.ResultReasonObjectDestroyed
			}
			assert.Equal(t, want, r.BatchItem[0].ResultReason)
		})
	}
}

func TestIDPlaceholderCarriesTheCreatedKeyToTheNextItem(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4,
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)},
		kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: struct{}{}},
		kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}},
	))
	require.Len(t, r.BatchItem, 3)
	for _, it := range r.BatchItem {
		assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", it.Operation, it.ResultMessage)
	}
}

func TestDestroyOfActiveKeyIsRefused(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	type attribute struct {
		AttributeName  string
		AttributeValue any
	}
	payload := struct {
		ObjectType        kmip14.ObjectType
		TemplateAttribute struct{ Attribute []attribute }
	}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []attribute }{[]attribute{
		{"Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES},
		{"Cryptographic Length", int32(256)},
		{"Activation Date", ttlvDate{}},
	}}}
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4,
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: payload},
		kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}},
	))
	require.Len(t, r.BatchItem, 2)
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[1].ResultStatus)
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, r.BatchItem[1].ResultReason, "1.4 has no Wrong Key Lifecycle State")
}

// ttlvDate marshals as a DateTime in the past (the epoch).
type ttlvDate struct{}

func (ttlvDate) MarshalTTLV(e *ttlv.Encoder, tag ttlv.Tag) error {
	e.EncodeDateTime(tag, timeEpoch)
	return nil
}

func TestCreateRefusesBadInput(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	type attribute struct {
		AttributeName  string
		AttributeValue any
	}
	mk := func(attrs ...attribute) any {
		return struct {
			ObjectType        kmip14.ObjectType
			TemplateAttribute struct{ Attribute []attribute }
		}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []attribute }{attrs}}
	}
	aes := attribute{"Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES}
	tests := []struct {
		name    string
		payload any
		reason  kmip20.ResultReason
	}{
		{"no algorithm", mk(attribute{"Cryptographic Length", int32(256)}), kmip20.ResultReasonMissingData},
		{"no length", mk(aes), kmip20.ResultReasonMissingData},
		{"bad AES length", mk(aes, attribute{"Cryptographic Length", int32(100)}), kmip20.ResultReasonInvalidField},
		{"length of the wrong type", mk(aes, attribute{"Cryptographic Length", "256"}), kmip20.ResultReasonInvalidField},
		{"server-set attribute", mk(aes, attribute{"Cryptographic Length", int32(256)}, attribute{"Unique Identifier", "mine"}), kmip20.ResultReasonPermissionDenied},
		{"not a symmetric key", struct{ ObjectType kmip14.ObjectType }{kmip14.ObjectTypeSecretData}, kmip20.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: tt.payload}))
			assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
			assert.Equal(t, tt.reason, r.BatchItem[0].ResultReason, r.BatchItem[0].ResultMessage)
		})
	}
}

func TestUnknownOperationIsNotSupported(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_2, kmiptest.Item{Operation: kmip20.OperationCertify, UniqueBatchItemID: []byte{7}, RequestPayload: struct{}{}}))
	it := r.BatchItem[0]
	assert.Equal(t, kmip20.ResultReasonOperationNotSupported, it.ResultReason)
	assert.Equal(t, kmip20.OperationCertify, it.Operation)
	assert.Equal(t, []byte{7}, it.UniqueBatchItemID)
}

func TestInvalidMessages(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	wrongCount, err := ttlv.Marshal(kmiptest.Message{RequestHeader: kmiptest.Header{ProtocolVersion: message.V1_1, BatchCount: 3},
		BatchItem: []kmiptest.Item{{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}}}})
	require.NoError(t, err)
	notARequest, err := ttlv.Marshal(struct {
		TTLVTag struct{} `ttlv:"ResponseMessage"`
		X       int32    `ttlv:"BatchCount"`
	}{})
	require.NoError(t, err)
	tests := []struct {
		name    string
		msg     []byte
		version message.Version
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), message.V1_0},
		{"batch count that lies", wrongCount, message.V1_1},
		{"response message sent as a request", notARequest, message.V1_0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := kmiptest.Execute(t, x, tt.msg)
			assert.Equal(t, tt.version, r.ResponseHeader.ProtocolVersion)
			assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
			assert.Equal(t, kmip20.ResultReasonInvalidMessage, r.BatchItem[0].ResultReason)
		})
	}
}

func TestBatchStopsAtTheFirstErrorUnlessContinue(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	items := []kmiptest.Item{
		{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: "missing"}},
		{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}},
	}
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4, items...))
	assert.Len(t, r.BatchItem, 1, "Stop is the default")

	b := kmiptest.RequestWith(t, kmiptest.Header{ProtocolVersion: message.V1_4, BatchErrorContinuationOption: message.BatchErrorContinue}, items...)
	r, _ = kmiptest.Execute(t, x, b)
	require.Len(t, r.BatchItem, 2)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus)
}

func TestMaximumResponseSize(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	b := kmiptest.RequestWith(t, kmiptest.Header{ProtocolVersion: message.V1_4, MaximumResponseSize: 100},
		kmiptest.Item{Operation: kmip20.OperationQuery, RequestPayload: struct {
			QueryFunction []kmip14.QueryFunction
		}{[]kmip14.QueryFunction{kmip14.QueryFunctionQueryOperations}}})
	r, _ := kmiptest.Execute(t, x, b)
	assert.Equal(t, kmip20.ResultReasonResponseTooLarge, r.BatchItem[0].ResultReason)
}

var timeEpoch = time.Unix(0, 0)

func TestBatchUndoRollsBackEarlierItems(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	// An existing key that the batch destroys before failing: the undo must
	// bring it back with its material.
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)}))
	var existing kmiptest.UID
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &existing)

	undo := kmiptest.Header{ProtocolVersion: message.V1_4, BatchErrorContinuationOption: message.BatchErrorUndo}
	r, _ = kmiptest.Execute(t, x, kmiptest.RequestWith(t, undo,
		kmiptest.Item{Operation: kmip20.OperationCreate, UniqueBatchItemID: []byte{1}, RequestPayload: kmiptest.CreateAES(message.V1_4, 128)},
		kmiptest.Item{Operation: kmip20.OperationDestroy, UniqueBatchItemID: []byte{2}, RequestPayload: kmiptest.UID{UniqueIdentifier: existing.UniqueIdentifier}},
		kmiptest.Item{Operation: kmip20.OperationGet, UniqueBatchItemID: []byte{3}, RequestPayload: kmiptest.UID{UniqueIdentifier: "no-such-key"}},
		kmiptest.Item{Operation: kmip20.OperationQuery, UniqueBatchItemID: []byte{4}, RequestPayload: struct{}{}},
	))
	require.Len(t, r.BatchItem, 3, "processing stops at the failure")
	assert.Equal(t, kmip14.ResultStatusOperationUndone, r.BatchItem[0].ResultStatus)
	assert.Equal(t, kmip14.ResultStatusOperationUndone, r.BatchItem[1].ResultStatus)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[2].ResultStatus)
	assert.Equal(t, []byte{3}, r.BatchItem[2].UniqueBatchItemID)

	r, _ = kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: existing}))
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, "the undone Destroy left the key and its material: %s", r.BatchItem[0].ResultMessage)
}

func TestBatchUndoOfCreateRemovesTheObject(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	undo := kmiptest.Header{ProtocolVersion: message.V2_1, BatchErrorContinuationOption: message.BatchErrorUndo}
	r, _ := kmiptest.Execute(t, x, kmiptest.RequestWith(t, undo,
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V2_1, 256)},
		kmiptest.Item{Operation: kmip20.OperationActivate, RequestPayload: struct{}{}},
		kmiptest.Item{Operation: kmip20.OperationActivate, RequestPayload: struct{}{}}, // fails: already Active
	))
	require.Len(t, r.BatchItem, 3)
	assert.Equal(t, kmip20.ResultReasonWrongKeyLifecycleState, r.BatchItem[2].ResultReason)
	require.Equal(t, kmip14.ResultStatusOperationUndone, r.BatchItem[0].ResultStatus)
	var created kmiptest.UID
	kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &created)
	r, _ = kmiptest.Execute(t, x, kmiptest.Request(t, message.V2_0, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: created}))
	assert.Equal(t, kmip20.ResultReasonObjectNotFound, r.BatchItem[0].ResultReason, "the undone Create left no object")
}

func TestTwoXCreateAcceptsTheOneXTemplateAttribute(t *testing.T) {
	// ovh/kmip-go v0.9.2 sends Create this way at 2.0 and 2.1.
	x := kmiptest.NewExecutor(t)
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V2_1, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)}))
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
}

func TestEmptyRequestMessageNamesTheMissingHeader(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	r, _ := kmiptest.Execute(t, x, []byte{0x42, 0x00, 0x78, 0x01, 0, 0, 0, 0})
	assert.Equal(t, kmip20.ResultReasonInvalidMessage, r.BatchItem[0].ResultReason)
	assert.Contains(t, r.BatchItem[0].ResultMessage, "header")
}
