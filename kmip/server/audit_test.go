package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// audited is an executor that writes a real audit log.
type audited struct {
	x    *server.Executor
	sink *audit.Sink
	path string
	key  []byte
}

func newAudited(t *testing.T, required bool) *audited {
	t.Helper()
	key := make([]byte, audit.KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "audit.log")
	sink, err := audit.Open(audit.Options{Path: path, Key: key})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	x := kmiptest.NewExecutor(t)
	x.Audit, x.AuditRequired = sink, required
	return &audited{x: x, sink: sink, path: path, key: key}
}

var auditClient = ops.Client{Tenant: kmiptest.Tenant, Name: "CN=array-1"}

// exec runs msg as auditClient over a connection from 192.0.2.7.
func (a *audited) exec(t *testing.T, msg []byte) kmiptest.Response {
	t.Helper()
	ctx := audit.WithPeer(context.Background(), audit.Peer{Remote: "192.0.2.7:40000", Fingerprint: "sha256:abcd"})
	out := a.x.ExecuteFor(ctx, auditClient, msg)
	var r kmiptest.Response
	require.NoError(t, ttlv.Unmarshal(out, &r))
	return r
}

// kmipRecords are the KMIP records of the log so far, the chain checked.
func (a *audited) kmipRecords(t *testing.T) []audit.Record {
	t.Helper()
	rep, err := audit.Verify(a.path, a.key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	var out []audit.Record
	_, err = audit.Walk(a.path, func(_ string, _ int, r audit.Record) error {
		if r.Source == audit.SourceKMIP {
			out = append(out, r)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func createdID(t *testing.T, it kmiptest.ResponseItem) string {
	t.Helper()
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var id kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &id)
	require.NotEmpty(t, id.UniqueIdentifier)
	return id.UniqueIdentifier
}

func TestAuditRecordsEveryBatchItem(t *testing.T) {
	v := message.V1_4
	create := kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)}
	type want struct{ op, uid, result, reason string }
	tests := []struct {
		name   string
		header kmiptest.Header
		items  func(existing string) []kmiptest.Item
		// want's uid: "existing", "new" (the first item's created key) or literal
		want []want
	}{
		{"create", kmiptest.Header{}, func(string) []kmiptest.Item { return []kmiptest.Item{create} },
			[]want{{"Create", "new", "success", ""}}},
		{"get", kmiptest.Header{}, func(id string) []kmiptest.Item {
			return []kmiptest.Item{{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: id}}}
		}, []want{{"Get", "existing", "success", ""}}},
		{"get of a missing object", kmiptest.Header{}, func(string) []kmiptest.Item {
			return []kmiptest.Item{{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: "no-such-key"}}}
		}, []want{{"Get", "no-such-key", "ItemNotFound", "no"}}},
		{"ID placeholder through a batch", kmiptest.Header{}, func(string) []kmiptest.Item {
			return []kmiptest.Item{create,
				{Operation: kmip20.OperationGetAttributes, RequestPayload: struct{}{}},
				{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}}}
		}, []want{{"Create", "new", "success", ""}, {"GetAttributes", "new", "success", ""}, {"Destroy", "new", "success", ""}}},
		{"failure with the ID placeholder", kmiptest.Header{BatchErrorContinuationOption: message.BatchErrorContinue}, func(id string) []kmiptest.Item {
			return []kmiptest.Item{{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: id}},
				{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}}}
		}, []want{{"Get", "existing", "success", ""}, {"Destroy", "existing", "PermissionDenied", "Active"}}},
		{"operation not supported", kmiptest.Header{}, func(string) []kmiptest.Item {
			return []kmiptest.Item{{Operation: kmip20.OperationCertify, RequestPayload: struct{}{}}}
		}, []want{{"Certify", "", "OperationNotSupported", "Certify"}}},
		{"undo batch", kmiptest.Header{BatchErrorContinuationOption: message.BatchErrorUndo}, func(string) []kmiptest.Item {
			return []kmiptest.Item{create, {Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: "no-such-key"}}}
		}, []want{{"Create", "new", "undone", "later item"}, {"Get", "no-such-key", "ItemNotFound", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAudited(t, true)
			// An Active key made beforehand, not audited by the case.
			existing := createdID(t, a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate,
				RequestPayload: kmiptest.CreateAES(v, 256, kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: ttlvDate{}})})).BatchItem[0])
			before := len(a.kmipRecords(t))

			h := tt.header
			h.ProtocolVersion = v
			r := a.exec(t, kmiptest.RequestWith(t, h, tt.items(existing)...))
			got := a.kmipRecords(t)[before:]
			require.Len(t, got, len(tt.want))
			created := ""
			if r.BatchItem[0].Operation == kmip20.OperationCreate && r.BatchItem[0].ResultStatus != kmip14.ResultStatusOperationFailed {
				var id kmiptest.UID
				kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &id)
				created = id.UniqueIdentifier
			}
			for i, w := range tt.want {
				e := got[i]
				switch w.uid {
				case "existing":
					w.uid = existing
				case "new":
					require.NotEmpty(t, created)
					w.uid = created
				}
				assert.Equal(t, w.op, e.Operation, "item %d", i)
				assert.Equal(t, w.uid, e.UniqueID, "item %d", i)
				assert.Equal(t, w.result, e.Result, "item %d", i)
				assert.Contains(t, e.Reason, w.reason, "item %d", i)
				if w.result == "success" {
					assert.Empty(t, e.Reason)
				}
				assert.Equal(t, kmiptest.Tenant, e.Tenant)
				assert.Equal(t, "CN=array-1", e.Client)
				assert.Equal(t, "192.0.2.7:40000", e.Remote)
				assert.Equal(t, "sha256:abcd", e.Fingerprint)
				assert.False(t, e.Time.IsZero())
			}
		})
	}
}

func TestAuditNeverHoldsKeyMaterial(t *testing.T) {
	a := newAudited(t, true)
	for _, v := range []message.Version{message.V1_0, message.V1_4, message.V2_1} {
		// A key the server made, fetched with Get...
		id := createdID(t, a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)})).BatchItem[0])
		r := a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: id}}))
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
		var got kmiptest.GetResponse
		kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &got)
		material, _ := got.KeyBlock().Material()
		made := material.ValueByteString()
		require.Len(t, made, 32)

		// ...and one the client registered, fetched too.
		given := make([]byte, 32)
		_, err := rand.Read(given)
		require.NoError(t, err)
		object := struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
			KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: kmiptest.KeyValue{KeyMaterial: given},
			CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: 256,
		}}
		reg := a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationRegister,
			RequestPayload: kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, object,
				kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: int32(12)})}))
		regID := createdID(t, reg.BatchItem[0])
		r = a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: regID}}))
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)

		log, err := os.ReadFile(a.path)
		require.NoError(t, err)
		require.Contains(t, string(log), id, "the log names the key")
		require.Contains(t, string(log), regID)
		for _, secret := range [][]byte{made, given} {
			for name, form := range map[string][]byte{
				"raw": secret, "hex": []byte(hex.EncodeToString(secret)),
				"HEX":    []byte(strings.ToUpper(hex.EncodeToString(secret))),
				"base64": []byte(base64.StdEncoding.EncodeToString(secret)), "base64 raw": []byte(base64.RawStdEncoding.EncodeToString(secret)),
				"base64url": []byte(base64.RawURLEncoding.EncodeToString(secret)),
				// a fragment, in case material were cut or wrapped
				"hex prefix": []byte(hex.EncodeToString(secret[:12])),
			} {
				assert.False(t, bytes.Contains(log, form), "%s: key material (%s) in the audit log", v, name)
			}
		}
	}
}

func TestAuditFailsClosed(t *testing.T) {
	tests := []struct {
		name     string
		required bool
	}{{"required", true}, {"not required", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAudited(t, tt.required)
			v := message.V1_4
			id := createdID(t, a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)})).BatchItem[0])
			require.NoError(t, a.sink.Close()) // the log can no longer be written

			r := a.exec(t, kmiptest.Request(t, v,
				kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: id}},
				kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: "no-such-key"}}))
			require.Len(t, r.BatchItem, 2)
			assert.Equal(t, kmip20.ResultReasonItemNotFound, r.BatchItem[1].ResultReason, "a failed item keeps its own reason")
			it := r.BatchItem[0]
			if !tt.required {
				assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus)
				assert.NotEmpty(t, it.ResponsePayload)
				return
			}
			assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason)
			assert.Contains(t, it.ResultMessage, "audit record could not be written")
			assert.Empty(t, it.ResponsePayload, "no key leaves without its audit record")
		})
	}
}

func TestNoAuditWithoutRecorder(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)}))
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus)
}
