package ops_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"path/filepath"
	"sync/atomic"
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

// hmacMACer is a RecordMACer in Go (HMAC-SHA256 under a fixed key), for
// the operations' tests; backend/pkcs11 tests the SKEY's. It counts the
// verifications that reach it.
type hmacMACer struct {
	*kmiptest.SoftBackend
	verifies atomic.Int64
}

func (h *hmacMACer) mac(tenant string, record []byte) []byte {
	m := hmac.New(sha256.New, []byte("record-mac-test-key"))
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write(record)
	return m.Sum(nil)
}

func (h *hmacMACer) MACRecord(_ context.Context, tenant string, record []byte) ([]byte, error) {
	return h.mac(tenant, record), nil
}

func (h *hmacMACer) VerifyRecord(_ context.Context, tenant string, record, mac []byte) error {
	h.verifies.Add(1)
	if !hmac.Equal(h.mac(tenant, record), mac) {
		return backend.ErrIntegrity
	}
	return nil
}

func macExecutor(t *testing.T, be backend.Backend) (*server.Executor, store.Store) {
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	log := zerolog.New(zerolog.NewTestWriter(t))
	// The SKEY scheme: these tests check the record MAC logic with a
	// root-of-trust MACer; recordkey_test.go covers the record MAC key.
	return &server.Executor{Ops: ops.New(ops.Deps{Store: st, Backend: be, BackendType: "soft", Log: log, RecordMACsBySKEY: true})}, st
}

// TestRecordMACs: records the operations write carry a MAC; a record
// changed behind the server's back is refused (General Failure) while
// others are still served, and VerifyRecord reports it; a record without a
// MAC (older build) is served and MACed on its next write; a record read
// again unchanged is not verified again in the root of trust.
func TestRecordMACs(t *testing.T) {
	ctx := context.Background()
	be := &hmacMACer{SoftBackend: kmiptest.NewSoftBackend()}
	x, st := macExecutor(t, be)
	v := message.V2_0
	get := func(id string) kmiptest.ResponseItem {
		return kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id})
	}
	victim := kmiptest.NewAESKey(t, x, v)
	bystander := kmiptest.NewAESKey(t, x, v)
	for _, id := range []string{victim, bystander} {
		rec, err := st.GetObject(ctx, kmiptest.Tenant, id)
		require.NoError(t, err)
		require.NotEmpty(t, rec.MAC, "written with a MAC")
		status, err := ops.VerifyRecord(ctx, be, rec)
		require.NoError(t, err)
		assert.Equal(t, ops.RecordOK, status)
	}
	before := be.verifies.Load()
	ok(t, get(victim))
	ok(t, get(victim))
	assert.Equal(t, before, be.verifies.Load(), "records the server wrote and reads unchanged are not verified again")

	tamper := []struct {
		name   string
		change func(o *store.Object)
	}{
		{"control: nothing changed", func(*store.Object) {}},
		{"material byte", func(o *store.Object) { o.Material[len(o.Material)/2] ^= 1 }},
		{"attribute byte", func(o *store.Object) { o.Attributes[len(o.Attributes)-1] ^= 1 }},
		{"state", func(o *store.Object) { o.State = uint32(kmip14.StateActive) }},
		{"names", func(o *store.Object) { o.Names = append(o.Names, "renamed") }},
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			victim := kmiptest.NewAESKey(t, x, v)
			rec, err := st.GetObject(ctx, kmiptest.Tenant, victim)
			require.NoError(t, err)
			// The MAC stays right for the record as it was at its next
			// revision: only the changed field is wrong.
			rec.MAC = be.mac(kmiptest.Tenant, store.RecordMACInput(rec, rec.Revision+1))
			tt.change(rec)
			require.NoError(t, st.UpdateObject(ctx, rec))
			it := get(victim)
			if tt.name == "control: nothing changed" {
				ok(t, it)
				return
			}
			assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason, it.ResultMessage)
			assert.Contains(t, it.ResultMessage, "integrity")
			stored, err := st.GetObject(ctx, kmiptest.Tenant, victim)
			require.NoError(t, err)
			status, err := ops.VerifyRecord(ctx, be, stored)
			require.NoError(t, err)
			assert.Equal(t, ops.RecordTampered, status)
			ok(t, get(bystander))
		})
	}

	// An older build's record: no MAC. Served, then MACed on its next write.
	legacy := kmiptest.NewAESKey(t, x, v)
	rec, err := st.GetObject(ctx, kmiptest.Tenant, legacy)
	require.NoError(t, err)
	rec.MAC = nil
	require.NoError(t, st.UpdateObject(ctx, rec))
	ok(t, get(legacy))
	status, err := ops.VerifyRecord(ctx, be, rec)
	require.NoError(t, err)
	assert.Equal(t, ops.RecordNoMAC, status)
	ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationActivate, kmiptest.UID{UniqueIdentifier: legacy}))
	rec, err = st.GetObject(ctx, kmiptest.Tenant, legacy)
	require.NoError(t, err)
	status, err = ops.VerifyRecord(ctx, be, rec)
	require.NoError(t, err)
	assert.Equal(t, ops.RecordOK, status, "MACed by its next write")

	// Re-key runs in a store transaction: its writes are MACed as well.
	it := kmiptest.Exec1(t, x, v, kmip20.OperationReKey, kmiptest.UID{UniqueIdentifier: bystander})
	ok(t, it)
	var repl kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &repl)
	for _, id := range []string{bystander, repl.UniqueIdentifier} {
		rec, err := st.GetObject(ctx, kmiptest.Tenant, id)
		require.NoError(t, err)
		status, err := ops.VerifyRecord(ctx, be, rec)
		require.NoError(t, err)
		assert.Equal(t, ops.RecordOK, status, "written in a transaction: %s", id)
	}
}
