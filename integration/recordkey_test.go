package integration

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// devSKEY opens the development token of dir as the server does, for its
// SKEY's record MACs (the server must be stopped).
func devSKEY(t *testing.T, dir string) backend.RecordMACer {
	t.Helper()
	p := config.Default().Backend.PKCS11
	p.TokenLabel = "kmip-adapter-dev"
	p.SoftHSM2Conf = filepath.Join(dir, "softhsm", "softhsm2.conf")
	p.PIN = config.Secret{File: filepath.Join(dir, "softhsm", "user.pin")}
	be, err := pkcs11.Open(context.Background(), p)
	require.NoError(t, err)
	t.Cleanup(func() { _ = be.Close() })
	return be
}

// TestRecordKeyUpgradesSKEYRecords: the server MACs records with the
// store's record MAC key; a record MACed by the HSM's SKEY (as an older
// build wrote it) is still served, `kmipctl store verify` counts it and
// `--fix` rewrites it with the key; a key record changed in the store
// opens nothing, and the records MACed with the key are then not served.
func TestRecordKeyUpgradesSKEYRecords(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() (*server, *client.Conn) {
		s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
		require.NoError(t, err)
		conn, err := client.Dial(ctx, s.addr, s.clientTLS(t), client.Options{Version: message.V2_0})
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		return s, conn
	}
	verify := func(args ...string) (string, error) {
		return runKmipctl(t, append([]string{"store", "verify", "--config", filepath.Join(dir, "config.yaml")}, args...)...)
	}
	record := func(id string) *store.Object {
		var rec *store.Object
		withStoreFile(t, filepath.Join(dir, "data", "store.db"), func(st *bbolt.Store) {
			tenants, err := st.TenantIDs(ctx)
			require.NoError(t, err)
			for _, tenant := range tenants {
				if o, err := st.GetObject(ctx, tenant, id); err == nil {
					rec = o
				}
			}
		})
		require.NotNil(t, rec, "object %s in the store", id)
		return rec
	}

	s, conn := start()
	assert.True(t, s.logged("record MAC key open: records are MACed in the adapter"))
	var ids []string
	for range 2 {
		id, err := conn.Create(ctx, kmip14.ObjectTypeSymmetricKey, client.AESKey(256, kmip14.CryptographicUsageMaskEncrypt))
		require.NoError(t, err)
		_, err = conn.Get(ctx, id) // ends Fresh: its one write
		require.NoError(t, err)
		ids = append(ids, id)
	}
	old, other := ids[0], ids[1]
	_, err := s.stopCleanly()
	require.NoError(t, err)
	assert.True(t, ops.IsKeyMAC(record(old).MAC), "MACed with the record MAC key")

	// As an older build wrote it: the SKEY's MAC.
	skey := devSKEY(t, dir)
	tenant := record(old).TenantID
	withStoreFile(t, filepath.Join(dir, "data", "store.db"), func(st *bbolt.Store) {
		rec, err := st.GetObject(ctx, tenant, old)
		require.NoError(t, err)
		rec.MAC, err = skey.MACRecord(ctx, rec.TenantID, store.RecordMACInput(rec, rec.Revision+1))
		require.NoError(t, err)
		require.NoError(t, st.UpdateObject(ctx, rec))
	})
	_ = skey.(backend.Backend).Close()
	require.False(t, ops.IsKeyMAC(record(old).MAC))
	out, err := verify()
	require.NoError(t, err, out)
	assert.Contains(t, out, "0 TAMPERED")
	// It, and the store's marker, which the server wrote at its first
	// start before it opened the key (ops.MarkNewStore).
	assert.Contains(t, out, "2 records MACed by the SKEY (older builds)")

	s, conn = start()
	_, err = conn.Get(ctx, old)
	require.NoError(t, err, "a record MACed by the SKEY is served")
	_, err = s.stopCleanly()
	require.NoError(t, err)

	out, err = verify("--fix")
	require.NoError(t, err, out)
	assert.Contains(t, out, "2 records MACed by the SKEY: 2 rewritten with the record MAC key")
	assert.True(t, ops.IsKeyMAC(record(old).MAC), "rewritten with the key")
	out, err = verify()
	require.NoError(t, err, out)
	assert.NotContains(t, out, "MACed by the SKEY")

	// The sealed key changed in the store: its record fails its SKEY MAC,
	// the key does not open, and what it MACed is not served.
	withStoreFile(t, filepath.Join(dir, "data", "store.db"), func(st *bbolt.Store) {
		k, err := st.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
		require.NoError(t, err)
		k.Material[len(k.Material)-1] ^= 1
		require.NoError(t, st.UpdateObject(ctx, k))
	})
	out, err = verify()
	require.Error(t, err, out)
	assert.Contains(t, out, "record MAC key")
	assert.Contains(t, out, "integrity")
	s, conn = start()
	defer func() { _, _, _ = s.stop(stopTimeout) }()
	for _, id := range []string{old, other} {
		_, err = conn.Get(ctx, id)
		assert.Error(t, err, "not served without the key that MACed it: %s", id)
	}
	assert.True(t, s.loggedContaining("record MAC key not open"))
}
