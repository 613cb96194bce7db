package ops_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// stripMAC writes the record back without its MAC, as someone with write
// access to the store would.
func stripMAC(t *testing.T, st store.Store, id string) {
	t.Helper()
	rec, err := st.GetObject(context.Background(), kmiptest.Tenant, id)
	require.NoError(t, err)
	require.NotEmpty(t, rec.MAC)
	rec.MAC = nil
	require.NoError(t, st.UpdateObject(context.Background(), rec))
}

// TestRecordMACMarker: a new store is marked at start (MarkNewStore) and
// then a record whose MAC was stripped is refused as a failing one is;
// an older store (objects, no marker) is not marked at start, serves
// such a record, and once its records have their MACs (AddRecordMAC) and
// the marker is written, refuses it too.
func TestRecordMACMarker(t *testing.T) {
	ctx := context.Background()
	be := &hmacMACer{SoftBackend: kmiptest.NewSoftBackend()}
	v := message.V2_0
	open := func(st store.Store) *server.Executor {
		log := zerolog.New(zerolog.NewTestWriter(t))
		return &server.Executor{Ops: ops.New(ops.Deps{Store: st, Backend: be, BackendType: "soft", Log: log}), Log: log}
	}
	get := func(x *server.Executor, id string) kmiptest.ResponseItem {
		return kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id})
	}
	refused := func(it kmiptest.ResponseItem) {
		t.Helper()
		assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
		assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason, it.ResultMessage)
		assert.Contains(t, it.ResultMessage, "integrity")
	}

	t.Run("new store", func(t *testing.T) {
		st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
		require.NoError(t, err)
		defer st.Close()
		require.NoError(t, ops.MarkNewStore(ctx, st, be))
		marked, err := ops.RecordMACsRequired(ctx, st, be)
		require.NoError(t, err)
		assert.True(t, marked)
		x := open(st)
		victim, bystander := kmiptest.NewAESKey(t, x, v), kmiptest.NewAESKey(t, x, v)
		stripMAC(t, st, victim)
		refused(get(x, victim))
		refused(kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributes, kmiptest.UID{UniqueIdentifier: victim}))
		ok(t, get(x, bystander))
		require.NoError(t, ops.MarkNewStore(ctx, st, be), "a second start leaves the marker")
	})

	t.Run("older store", func(t *testing.T) {
		st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
		require.NoError(t, err)
		defer st.Close()
		x := open(st) // an older build: no marker written
		legacy := kmiptest.NewAESKey(t, x, v)
		stripMAC(t, st, legacy)
		require.NoError(t, ops.MarkNewStore(ctx, st, be))
		marked, err := ops.RecordMACsRequired(ctx, st, be)
		require.NoError(t, err)
		assert.False(t, marked, "a store with objects is not marked at start")
		x = open(st)
		ok(t, get(x, legacy))
		ok(t, get(x, legacy))
		stripMAC(t, st, legacy) // the first Get wrote (Fresh): strip again
		ok(t, get(x, legacy))

		// The backfill: the record gets its MAC, then the marker.
		wrote, err := ops.AddRecordMAC(ctx, st, be, kmiptest.Tenant, legacy)
		require.NoError(t, err)
		assert.True(t, wrote)
		wrote, err = ops.AddRecordMAC(ctx, st, be, kmiptest.Tenant, legacy)
		require.NoError(t, err)
		assert.False(t, wrote, "a record with a MAC is left alone")
		rec, err := st.GetObject(ctx, kmiptest.Tenant, legacy)
		require.NoError(t, err)
		status, err := ops.VerifyRecord(ctx, be, rec)
		require.NoError(t, err)
		assert.Equal(t, ops.RecordOK, status)
		require.NoError(t, ops.MarkRecordMACs(ctx, st, be))
		marked, err = ops.RecordMACsRequired(ctx, st, be)
		require.NoError(t, err)
		assert.True(t, marked)
		marker, err := st.GetObject(ctx, ops.RecordMACMarkerTenant, ops.RecordMACMarkerID)
		require.NoError(t, err)
		status, err = ops.VerifyRecord(ctx, be, marker)
		require.NoError(t, err)
		assert.Equal(t, ops.RecordOK, status, "the marker is MACed like any record")

		x = open(st)
		ok(t, get(x, legacy))
		stripMAC(t, st, legacy)
		refused(get(x, legacy))
	})
}

// noMACer is a root of trust that offers RecordMACer but makes no MACs
// (a Router whose roots are all cloud KMSs).
type noMACer struct{ *kmiptest.SoftBackend }

func (noMACer) MACRecord(context.Context, string, []byte) ([]byte, error) { return nil, nil }
func (noMACer) VerifyRecord(context.Context, string, []byte, []byte) error {
	return backend.ErrKeyMissing
}

// TestRecordMACMarkerNeedsMACs: a root of trust that makes no record MACs
// never marks a store (it would refuse every record it wrote).
func TestRecordMACMarkerNeedsMACs(t *testing.T) {
	ctx := context.Background()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	defer st.Close()
	be := noMACer{kmiptest.NewSoftBackend()}
	require.NoError(t, ops.MarkNewStore(ctx, st, be))
	assert.ErrorIs(t, ops.MarkRecordMACs(ctx, st, be), ops.ErrNoRecordMACs)
	log := zerolog.New(zerolog.NewTestWriter(t))
	x := &server.Executor{Ops: ops.New(ops.Deps{Store: st, Backend: be, BackendType: "soft", Log: log}), Log: log}
	id := kmiptest.NewAESKey(t, x, message.V2_0)
	ok(t, kmiptest.Exec1(t, x, message.V2_0, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id}))
}
