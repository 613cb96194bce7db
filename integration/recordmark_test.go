package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// withStoreFile opens the stopped server's bbolt store for fn, as
// someone with write access to the file would.
func withStoreFile(t *testing.T, path string, fn func(st *bbolt.Store)) {
	t.Helper()
	st, err := bbolt.Open(path)
	require.NoError(t, err)
	defer st.Close()
	fn(st)
}

// stripStoredMAC rewrites object id's record without its MAC.
func stripStoredMAC(t *testing.T, path, id string) {
	t.Helper()
	ctx := context.Background()
	withStoreFile(t, path, func(st *bbolt.Store) {
		tenants, err := st.TenantIDs(ctx)
		require.NoError(t, err)
		for _, tenant := range tenants {
			rec, err := st.GetObject(ctx, tenant, id)
			if err != nil {
				continue
			}
			require.NotEmpty(t, rec.MAC, "the record has a MAC to strip")
			rec.MAC = nil
			require.NoError(t, st.UpdateObject(ctx, rec))
			return
		}
		t.Fatalf("object %s not in the store", id)
	})
}

// TestStrippedMACIsRefused: a store made by this server is marked
// "every record carries a MAC", so a record whose MAC was stripped in the
// file is refused (General Failure, logged, audited) while the others are
// served, and `kmipctl store verify` counts it. Without the marker (a
// store from before record MACs) the record is served; `kmipctl store
// verify --fix` MACs such records and marks the store, and a MAC
// stripped after that is refused again.
func TestStrippedMACIsRefused(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() *server {
		s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
		require.NoError(t, err)
		return s
	}
	dial := func(s *server) *client.Conn {
		conn, err := client.Dial(ctx, s.addr, s.clientTLS(t), client.Options{Version: message.V2_0})
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	verify := func(args ...string) (string, error) {
		cmd := exec.Command(bin(t, "kmipctl"), append([]string{"store", "verify", "--config", filepath.Join(dir, "config.yaml")}, args...)...)
		cmd.Env = environ()
		out, err := runWithTimeout(cmd, cmdTimeout)
		return string(out), err
	}

	s := start()
	conn := dial(s)
	victim, err := conn.Create(ctx, kmip14.ObjectTypeSymmetricKey, client.AESKey(256, kmip14.CryptographicUsageMaskEncrypt))
	require.NoError(t, err)
	bystander, err := conn.Create(ctx, kmip14.ObjectTypeSymmetricKey, client.AESKey(256, kmip14.CryptographicUsageMaskEncrypt))
	require.NoError(t, err)
	_, err = s.stopCleanly()
	require.NoError(t, err)
	out, err := verify()
	require.NoError(t, err, out)
	assert.Contains(t, out, "0 without a MAC")
	assert.Contains(t, out, "store marked", "a store made by this version is marked at the server's first start")

	stripStoredMAC(t, s.storePath(), victim)
	out, err = verify()
	require.NoError(t, err, out)
	assert.Contains(t, out, "1 without a MAC")
	s = start()
	conn = dial(s)
	_, err = conn.Get(ctx, victim)
	require.Error(t, err)
	assert.Equal(t, kmip20.ResultReasonGeneralFailure, reasonOf(err), "%v", err)
	assert.Contains(t, err.Error(), "integrity")
	_, err = conn.Get(ctx, bystander)
	require.NoError(t, err, "the other records are served")
	assert.True(t, s.loggedSoon("stored record has no MAC in a store whose every record must have one: not served (kmipctl store verify lists such records)"), "logged")
	_, err = s.stopCleanly()
	require.NoError(t, err)
	refused := false
	for _, r := range auditShow(t, dir) {
		if r.UniqueID == victim && r.Operation == "Get" && r.Result == "GeneralFailure" && strings.Contains(r.Reason, "integrity") {
			refused = true
		}
	}
	assert.True(t, refused, "the refused Get is in the audit trail")

	// A store from before record MACs: no marker. The record is served.
	withStoreFile(t, s.storePath(), func(st *bbolt.Store) {
		require.NoError(t, st.DeleteObject(context.Background(), ops.RecordMACMarkerTenant, ops.RecordMACMarkerID))
	})
	out, err = verify()
	require.NoError(t, err, out)
	assert.Contains(t, out, "store NOT marked")
	s = start()
	conn = dial(s)
	_, err = conn.Get(ctx, victim)
	require.NoError(t, err, "an unmarked store serves a record without a MAC")
	_, err = s.stopCleanly()
	require.NoError(t, err)

	// The backfill: MAC the records without one, mark the store.
	stripStoredMAC(t, s.storePath(), victim) // the Get above wrote it (Fresh) with a MAC
	out, err = verify("--fix")
	require.NoError(t, err, out)
	assert.Contains(t, out, "1 without a MAC")
	assert.Contains(t, out, "fixed: 1 records given their MAC")
	assert.Contains(t, out, "store marked")
	out, err = verify()
	require.NoError(t, err, out)
	assert.Contains(t, out, "0 without a MAC")
	withStoreFile(t, s.storePath(), func(st *bbolt.Store) {
		_, err := st.GetObject(context.Background(), ops.RecordMACMarkerTenant, ops.RecordMACMarkerID)
		assert.NoError(t, err, "the marker is set")
	})
	s = start()
	conn = dial(s)
	_, err = conn.Get(ctx, victim)
	require.NoError(t, err, "the backfilled record is served")
	_, err = s.stopCleanly()
	require.NoError(t, err)
	stripStoredMAC(t, s.storePath(), victim)
	s = start()
	defer func() { _, _, _ = s.stop(stopTimeout) }()
	conn = dial(s)
	_, err = conn.Get(ctx, victim)
	assert.Equal(t, kmip20.ResultReasonGeneralFailure, reasonOf(err), "stripped after the backfill: refused: %v", err)
}
