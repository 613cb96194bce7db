package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// failingCommit runs the real operations and then makes the store commit
// that the executor deferred fail, as a store whose fdatasync failed
// after the write applied would. It reports whether the executor
// deferred one.
type failingCommit struct {
	server.Dispatcher
	err      error
	deferred bool
	// storeDeferred is whether the store itself had deferred a commit
	// when the operation returned.
	storeDeferred bool
}

func (f *failingCommit) Handle(ctx context.Context, op message.Operation, call *ops.Call) (any, error) {
	out, err := f.Dispatcher.Handle(ctx, op, call)
	if d := store.DeferredFrom(ctx); d != nil {
		f.deferred, f.storeDeferred = true, d.Pending()
		d.Defer(func() error { return f.err })
	}
	return out, err
}

// TestStoreCommitOverlapsAuditRecord: a Create alone in its message runs
// with its store commit deferred (overlapping its audit record); if that
// commit fails, the Create answers the failure and a correction record
// follows its success record in the chain. Other operations, and a Create
// in a batch, wait for their commit inside the operation as before.
func TestStoreCommitOverlapsAuditRecord(t *testing.T) {
	v := message.V1_4
	create := kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)}
	tests := []struct {
		name      string
		items     []kmiptest.Item
		commitErr error
		deferred  bool
		want      []string // results of the KMIP records
	}{
		{name: "create, commit ok", items: []kmiptest.Item{create}, deferred: true, want: []string{"success"}},
		{name: "create, commit fails", items: []kmiptest.Item{create}, commitErr: errors.New("fdatasync: input/output error"), deferred: true,
			want: []string{"success", kmip20.ResultReasonGeneralFailure.String()}},
		{name: "two creates in a batch", items: []kmiptest.Item{create, create}, commitErr: errors.New("not deferred"), want: []string{"success", "success"}},
		{name: "discover versions", items: []kmiptest.Item{{Operation: kmip20.OperationDiscoverVersions, RequestPayload: struct{}{}}}, commitErr: errors.New("not deferred"), want: []string{"success"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAudited(t, true)
			f := &failingCommit{Dispatcher: a.x.Ops, err: tt.commitErr}
			a.x.Ops = f
			r := a.exec(t, kmiptest.Request(t, v, tt.items...))
			assert.Equal(t, tt.deferred, f.deferred)
			recs := a.kmipRecords(t)
			require.Len(t, recs, len(tt.want))
			for i, w := range tt.want {
				assert.Equal(t, w, recs[i].Result, "record %d", i)
			}
			if tt.deferred && tt.commitErr != nil {
				it := r.BatchItem[0]
				assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
				assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason)
				assert.Empty(t, it.ResponsePayload, "no identifier of an object that was not kept")
				assert.Equal(t, recs[0].UniqueID, recs[1].UniqueID)
				assert.NotEmpty(t, recs[1].UniqueID)
				assert.Contains(t, recs[1].Reason, "correction")
				return
			}
			for _, it := range r.BatchItem {
				assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			}
		})
	}
}

// TestFirstGetOverlapsCommit: the first Get of a key writes (Fresh becomes
// False) with its commit deferred, overlapping its audit record. If that
// commit fails the Get answers General Failure, hands out no key material,
// and a correction record follows its success record; a Get in a batch of
// two is not deferred (its write is held and committed with the message,
// writebehind.go).
func TestFirstGetOverlapsCommit(t *testing.T) {
	v := message.V1_4
	tests := []struct {
		name      string
		batch     bool
		commitErr error
	}{
		{name: "commit ok"},
		{name: "commit fails", commitErr: errors.New("fdatasync: input/output error")},
		{name: "in a batch", batch: true, commitErr: errors.New("not deferred")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAudited(t, true)
			created := a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)}))
			id := createdID(t, created.BatchItem[0])
			f := &failingCommit{Dispatcher: a.x.Ops, err: tt.commitErr}
			a.x.Ops = f
			get := kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.Get(id, 0)}
			items := []kmiptest.Item{get}
			if tt.batch {
				items = append(items, get)
			}
			r := a.exec(t, kmiptest.Request(t, v, items...))
			recs := a.kmipRecords(t)
			if tt.batch {
				assert.False(t, f.deferred)
				require.Len(t, recs, 3)
				for _, it := range r.BatchItem {
					assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
				}
				return
			}
			assert.True(t, f.deferred)
			assert.True(t, f.storeDeferred, "the store deferred the Fresh update's commit")
			it := r.BatchItem[0]
			if tt.commitErr == nil {
				assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
				assert.NotEmpty(t, it.ResponsePayload)
				require.Len(t, recs, 2)
				assert.Equal(t, "success", recs[1].Result)
				return
			}
			assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason)
			assert.Empty(t, it.ResponsePayload, "no key material from a Get whose write was not kept")
			require.Len(t, recs, 3)
			assert.Equal(t, "Get", recs[1].Operation)
			assert.Equal(t, "success", recs[1].Result)
			assert.Equal(t, id, recs[2].UniqueID)
			assert.Contains(t, recs[2].Reason, "correction")
		})
	}
}
