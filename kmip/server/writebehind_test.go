package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// storeCommits reads kmip_adapter_store_commits_total from st's metrics.
func storeCommits(t *testing.T, st store.Store) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(st.(prometheus.Collector)))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "kmip_adapter_store_commits_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no kmip_adapter_store_commits_total")
	return 0
}

// interfering writes the object of the message's first item through the
// store, as another client would, after the first item of the message's
// first run: the held writes are then refused when committed.
type interfering struct {
	server.Dispatcher
	st    store.Store
	id    string
	items atomic.Int32
}

func (d *interfering) Handle(ctx context.Context, op message.Operation, call *ops.Call) (any, error) {
	out, err := d.Dispatcher.Handle(ctx, op, call)
	if d.items.Add(1) == 1 {
		o, gerr := d.st.GetObject(context.Background(), kmiptest.Tenant, d.id)
		if gerr == nil {
			o.Names = append(o.Names, "changed-by-another-client")
			gerr = d.st.UpdateObject(context.Background(), o)
		}
		if gerr != nil {
			return nil, gerr
		}
	}
	return out, err
}

// failingHeld makes the message's held writes fail: as they are applied
// (a write the store refuses for another reason than a conflict), or
// once their commit has begun (as an fdatasync error would).
type failingHeld struct {
	server.Dispatcher
	err      error
	inCommit bool
}

func (d *failingHeld) Handle(ctx context.Context, op message.Operation, call *ops.Call) (any, error) {
	out, err := d.Dispatcher.Handle(ctx, op, call)
	if w := store.WriteBehindFrom(ctx); w != nil {
		// The last holder's commit is the one Flush calls.
		w.Hold(&store.Object{TenantID: "x", ID: "x"}, nil, func([]any) (func() error, error) {
			if d.inCommit {
				return func() error { return d.err }, nil
			}
			return nil, d.err
		})
	}
	return out, err
}

// TestMessageOfAttributeEditsCommitsOnce: vCenter's three Add Attribute
// items in one message make one store commit, and each item sees the
// ones before it; when another client writes the object while the
// message runs, the message runs again and every item still takes
// effect; when the commit fails, every item answers the failure.
func TestMessageOfAttributeEditsCommitsOnce(t *testing.T) {
	v := message.V1_1
	add := func(id, name, value string) kmiptest.Item {
		return kmiptest.Item{Operation: kmip20.OperationAddAttribute, RequestPayload: struct {
			UniqueIdentifier string
			Attribute        kmiptest.Attr1
		}{id, kmiptest.Attr1{AttributeName: name, AttributeValue: value}}}
	}
	names := []string{"x-Product_Version", "x-Vendor", "x-Product"}
	tests := []struct {
		name       string
		wrap       func(d server.Dispatcher, st store.Store, id string) server.Dispatcher
		commits    float64 // store commits of the message
		wantFailed bool
	}{
		{name: "one commit", commits: 1},
		// The other client's commit, the refused one of the held writes,
		// then one per item when the message runs again without them.
		{name: "another client writes in between", commits: 5,
			wrap: func(d server.Dispatcher, st store.Store, id string) server.Dispatcher {
				return &interfering{Dispatcher: d, st: st, id: id}
			}},
		{name: "writes fail as applied", wantFailed: true,
			wrap: func(d server.Dispatcher, _ store.Store, _ string) server.Dispatcher {
				return &failingHeld{Dispatcher: d, err: errors.New("bucket full")}
			}},
		// The commit overlaps the audit records: it fails after them.
		{name: "commit fails", wantFailed: true,
			wrap: func(d server.Dispatcher, _ store.Store, _ string) server.Dispatcher {
				return &failingHeld{Dispatcher: d, err: errors.New("fdatasync: input/output error"), inCommit: true}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, st := kmiptest.NewExecutorWithStore(t, nil)
			id := kmiptest.NewAESKey(t, x, v)
			if tt.wrap != nil {
				x.Ops = tt.wrap(x.Ops, st, id)
			}
			before := storeCommits(t, st)
			var items []kmiptest.Item
			for _, n := range names {
				items = append(items, add(id, n, "value of "+n))
			}
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v, items...))
			require.Len(t, r.BatchItem, len(names))
			o, err := st.GetObject(context.Background(), kmiptest.Tenant, id)
			require.NoError(t, err)
			if tt.wantFailed {
				for _, it := range r.BatchItem {
					assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
					assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason)
				}
				assert.Equal(t, uint64(1), o.Revision, "nothing of the message was committed")
				return
			}
			for _, it := range r.BatchItem {
				assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			}
			assert.Equal(t, tt.commits, storeCommits(t, st)-before)
			got := kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributes, struct {
				UniqueIdentifier string
				AttributeName    []string
			}{id, names})
			require.Equal(t, kmip14.ResultStatusSuccess, got.ResultStatus, got.ResultMessage)
			for _, n := range names {
				assert.Contains(t, string(got.ResponsePayload), "value of "+n, "every item took effect")
			}
		})
	}
}

// TestHeldWritesStopAtAFailedItem: with held writes a message still stops
// at its first failed item (the default Batch Error Continuation Option),
// and the items before it take effect.
func TestHeldWritesStopAtAFailedItem(t *testing.T) {
	v := message.V1_4
	x, st := kmiptest.NewExecutorWithStore(t, nil)
	id := kmiptest.NewAESKey(t, x, v)
	add := func(name string, value any) kmiptest.Item {
		return kmiptest.Item{Operation: kmip20.OperationAddAttribute, RequestPayload: struct {
			UniqueIdentifier string
			Attribute        kmiptest.Attr1
		}{id, kmiptest.Attr1{AttributeName: name, AttributeValue: value}}}
	}
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v,
		add("x-First", "one"),
		add("Cryptographic Length", int32(128)), // set by the server: not added by a client
		add("x-Third", "three")))
	require.Len(t, r.BatchItem, 2, "the item after the failed one does not run")
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[1].ResultStatus)
	o, err := st.GetObject(context.Background(), kmiptest.Tenant, id)
	require.NoError(t, err)
	assert.Contains(t, string(o.Attributes), "x-First", "the first item took effect")
	assert.NotContains(t, string(o.Attributes), "x-Third")
}

// TestHeldWritesCommitWithTheAuditRecords: the commit of a message's held
// writes overlaps its audit records; when that commit fails after them,
// every item answers the failure and each success record is followed by
// a correction, as for a single item (durable.go).
func TestHeldWritesCommitWithTheAuditRecords(t *testing.T) {
	v := message.V1_4
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit fails %v", fail), func(t *testing.T) {
			a := newAudited(t, true)
			created := a.exec(t, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)}))
			id := createdID(t, created.BatchItem[0])
			if fail {
				a.x.Ops = &failingHeld{Dispatcher: a.x.Ops, err: errors.New("fdatasync: input/output error"), inCommit: true}
			}
			get := kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.Get(id, 0)}
			r := a.exec(t, kmiptest.Request(t, v, get, get))
			recs := a.kmipRecords(t)
			require.Len(t, r.BatchItem, 2)
			if !fail {
				require.Len(t, recs, 3)
				for i, it := range r.BatchItem {
					assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
					assert.Equal(t, "success", recs[1+i].Result)
				}
				return
			}
			for _, it := range r.BatchItem {
				assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
				assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason)
				assert.Empty(t, it.ResponsePayload, "no key material from a message whose writes were not kept")
			}
			require.Len(t, recs, 5, "two success records, then their corrections")
			for i := 1; i <= 2; i++ {
				assert.Equal(t, "success", recs[i].Result)
				assert.Equal(t, id, recs[i+2].UniqueID)
				assert.Contains(t, recs[i+2].Reason, "correction")
			}
		})
	}
}
