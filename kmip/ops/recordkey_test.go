package ops_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
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
	"github.com/kmip-adapter/kmip-adapter/store/postgres"
	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
)

// recordKeyNode is one server's operations on st, over the SoftHSM2
// backend be, with the record MAC key.
func recordKeyNode(t *testing.T, st store.Store, be backend.Backend) (*server.Executor, *ops.Service) {
	log := zerolog.New(zerolog.NewTestWriter(t))
	svc := ops.New(ops.Deps{Store: st, Backend: be, BackendType: "pkcs11", Log: log})
	t.Cleanup(func() { _ = svc.Close() })
	return &server.Executor{Ops: svc, Log: log}, svc
}

func openBolt(t *testing.T, path string) *bbolt.Store {
	st, err := bbolt.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func requireRefused(t *testing.T, it kmiptest.ResponseItem) {
	t.Helper()
	assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
	assert.Equal(t, kmip20.ResultReasonGeneralFailure, it.ResultReason, it.ResultMessage)
}

// TestRecordKeyMACs, on SoftHSM2: the server makes the store's record MAC
// key (sealed through the HSM, its record MACed by the SKEY) and MACs
// records with it; a changed record is refused; a record MACed by the
// SKEY (an older build) still verifies, is refused when changed, and is
// rewritten with the key by UpgradeRecordMAC; a second node on the store
// uses the same key.
func TestRecordKeyMACs(t *testing.T) {
	ctx := context.Background()
	be := softHSMBackend(t)
	skey := hsmMACer(t, be)
	st := openBolt(t, filepath.Join(t.TempDir(), "store.db"))
	x, _ := recordKeyNode(t, st, be)
	v := message.V2_0
	get := func(x *server.Executor, id string) kmiptest.ResponseItem {
		return kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id})
	}

	// The key record: sealed material, a MAC by the SKEY.
	keyRec, err := st.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
	require.NoError(t, err, "the server made the record MAC key")
	assert.False(t, ops.IsKeyMAC(keyRec.MAC), "the key's own record is MACed by the SKEY")
	require.NoError(t, skey.VerifyRecord(ctx, ops.RecordKeyTenant, store.RecordMACInput(keyRec, keyRec.Revision), keyRec.MAC))
	keyTenant, err := st.GetTenant(ctx, ops.RecordKeyTenant)
	require.NoError(t, err)
	assert.Equal(t, "pkcs11", keyTenant.Backend)

	id := kmiptest.NewAESKey(t, x, v)
	rec, err := st.GetObject(ctx, kmiptest.Tenant, id)
	require.NoError(t, err)
	require.True(t, ops.IsKeyMAC(rec.MAC), "a new record is MACed with the key: %x", rec.MAC)
	ok(t, get(x, id))

	keys := ops.NewRecordKeys(st, be, skey, "pkcs11", zerolog.Nop())
	require.NoError(t, keys.Load(ctx, false))
	defer keys.Close()
	// rewrite stores the record id MACed by macer as it is at its next
	// revision, then changed by change (nil: unchanged).
	rewrite := func(id string, macer backend.RecordMACer, change func(o *store.Object)) {
		t.Helper()
		rec, err := st.GetObject(ctx, kmiptest.Tenant, id)
		require.NoError(t, err)
		rec.MAC, err = macer.MACRecord(ctx, kmiptest.Tenant, store.RecordMACInput(rec, rec.Revision+1))
		require.NoError(t, err)
		if change != nil {
			change(rec)
		}
		require.NoError(t, st.UpdateObject(ctx, rec))
	}
	flip := func(o *store.Object) { o.Attributes[len(o.Attributes)-1] ^= 1 }

	t.Run("changed record refused", func(t *testing.T) {
		victim := kmiptest.NewAESKey(t, x, v)
		ok(t, get(x, victim))
		rewrite(victim, keys, nil)
		ok(t, get(x, victim)) // control
		rewrite(victim, keys, flip)
		requireRefused(t, get(x, victim))
		stored, err := st.GetObject(ctx, kmiptest.Tenant, victim)
		require.NoError(t, err)
		require.True(t, ops.IsKeyMAC(stored.MAC))
		status, err := ops.VerifyRecord(ctx, keys, stored)
		require.NoError(t, err)
		assert.Equal(t, ops.RecordTampered, status)
	})

	// A record as an older build wrote it: MACed by the SKEY.
	legacy := kmiptest.NewAESKey(t, x, v)
	ok(t, get(x, legacy)) // ends Fresh: no write on the Gets below
	rewrite(legacy, skey, nil)
	rec, err = st.GetObject(ctx, kmiptest.Tenant, legacy)
	require.NoError(t, err)
	require.False(t, ops.IsKeyMAC(rec.MAC))
	ok(t, get(x, legacy))

	t.Run("changed SKEY-MACed record refused", func(t *testing.T) {
		victim := kmiptest.NewAESKey(t, x, v)
		ok(t, get(x, victim))
		rewrite(victim, skey, flip)
		requireRefused(t, get(x, victim))
	})

	// The upgrade of `kmipctl store verify --fix`.
	wrote, err := ops.UpgradeRecordMAC(ctx, st, keys, kmiptest.Tenant, legacy)
	require.NoError(t, err)
	assert.True(t, wrote)
	rec, err = st.GetObject(ctx, kmiptest.Tenant, legacy)
	require.NoError(t, err)
	assert.True(t, ops.IsKeyMAC(rec.MAC), "rewritten with the key")
	ok(t, get(x, legacy))
	wrote, err = ops.UpgradeRecordMAC(ctx, st, keys, kmiptest.Tenant, legacy)
	require.NoError(t, err)
	assert.False(t, wrote, "already MACed with the key")
	wrote, err = ops.UpgradeRecordMAC(ctx, st, keys, ops.RecordKeyTenant, ops.RecordKeyID)
	require.NoError(t, err)
	assert.False(t, wrote, "the key's record keeps its SKEY MAC")

	// Another node (a new service, an empty verified cache) on the store:
	// the same key, not a new one.
	x2, _ := recordKeyNode(t, st, be)
	ok(t, get(x2, id))
	ok(t, get(x2, legacy))
	again, err := st.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
	require.NoError(t, err)
	assert.Equal(t, keyRec.Material, again.Material, "the key record is not replaced")
	assert.Equal(t, keyRec.Revision, again.Revision)
}

// TestRecordKeySubstituted: a key record or key tenant changed in the
// store, or replaced by another store's (same HSM: a valid SKEY MAC),
// does not let records through: the key does not open, or the records
// MACed with the real key fail.
func TestRecordKeySubstituted(t *testing.T) {
	ctx := context.Background()
	be := softHSMBackend(t)
	skey := hsmMACer(t, be)
	v := message.V2_0
	dir := t.TempDir()
	otherPath := filepath.Join(dir, "other.db")
	other := openBolt(t, otherPath)
	recordKeyNode(t, other, be) // makes the other store's key
	otherKey, err := other.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
	require.NoError(t, err)
	otherTenant, err := other.GetTenant(ctx, ops.RecordKeyTenant)
	require.NoError(t, err)

	for _, tt := range []struct {
		name       string
		substitute func(t *testing.T, st store.Store)
		loadErr    error // Load's, nil when the key opens (another key)
	}{
		{"sealed key byte", func(t *testing.T, st store.Store) {
			o, err := st.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
			require.NoError(t, err)
			o.Material[len(o.Material)-1] ^= 1
			require.NoError(t, st.UpdateObject(ctx, o))
		}, backend.ErrIntegrity},
		{"sealed key of the other store, MAC kept", func(t *testing.T, st store.Store) {
			o, err := st.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
			require.NoError(t, err)
			o.Material = bytes.Clone(otherKey.Material)
			require.NoError(t, st.UpdateObject(ctx, o))
		}, backend.ErrIntegrity},
		{"key tenant blob of another tenant", func(t *testing.T, st store.Store) {
			def, err := st.GetTenant(ctx, kmiptest.Tenant)
			require.NoError(t, err)
			kt, err := st.GetTenant(ctx, ops.RecordKeyTenant)
			require.NoError(t, err)
			kt.KeyBlob = bytes.Clone(def.KeyBlob)
			require.NoError(t, st.PutTenant(ctx, kt))
		}, backend.ErrIntegrity},
		{"whole key of the other store", func(t *testing.T, st store.Store) {
			require.NoError(t, st.DeleteObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID))
			copied := *otherKey // revision 1 here as there: its SKEY MAC holds
			require.NoError(t, st.CreateObject(ctx, &copied))
			kt, err := st.GetTenant(ctx, ops.RecordKeyTenant)
			require.NoError(t, err)
			kt.KeyBlob = bytes.Clone(otherTenant.KeyBlob)
			require.NoError(t, st.PutTenant(ctx, kt))
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			st, err := bbolt.Open(path)
			require.NoError(t, err)
			x, svc := recordKeyNode(t, st, be)
			id := kmiptest.NewAESKey(t, x, v)
			ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id}))
			_ = svc.Close()
			tt.substitute(t, st)

			keys := ops.NewRecordKeys(st, be, skey, "pkcs11", zerolog.Nop())
			err = keys.Load(ctx, true)
			if tt.loadErr != nil {
				require.ErrorIs(t, err, tt.loadErr)
			} else {
				require.NoError(t, err)
				assert.True(t, keys.KeyOpen())
			}
			rec, err := st.GetObject(ctx, kmiptest.Tenant, id)
			require.NoError(t, err)
			status, err := ops.VerifyRecord(ctx, keys, rec)
			if err == nil {
				assert.Equal(t, ops.RecordTampered, status, "the record MACed with the real key does not verify")
			} else {
				assert.ErrorIs(t, err, backend.ErrUnavailable, "the key did not open: the check cannot run")
			}
			keys.Close()

			// A server on the store serves nothing MACed with the real key.
			x2, _ := recordKeyNode(t, st, be)
			requireRefused(t, kmiptest.Exec1(t, x2, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id}))
			require.NoError(t, st.Close())
		})
	}
}

// TestRecordKeyCreatedOnce: nodes starting at once on one store (two
// PostgreSQL connections pools, or one bbolt store) make one key between
// them, and a MAC made by any verifies on every other.
func TestRecordKeyCreatedOnce(t *testing.T) {
	ctx := context.Background()
	be := softHSMBackend(t)
	skey := hsmMACer(t, be)
	stores := map[string]func(t *testing.T) []store.Store{
		"bbolt": func(t *testing.T) []store.Store {
			return []store.Store{openBolt(t, filepath.Join(t.TempDir(), "store.db"))}
		},
		"postgres": func(t *testing.T) []store.Store {
			srv, err := pgtest.Start()
			if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("KMIP_INTEGRATION_REQUIRED") != "1" {
				t.Skipf("%v: skipping (set KMIP_INTEGRATION_REQUIRED=1 to make this a failure)", err)
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close() })
			dsn, err := srv.CreateSchema(ctx, "recordkey")
			require.NoError(t, err)
			var out []store.Store
			for range 2 { // two nodes
				st, err := postgres.Open(ctx, postgres.Options{DSN: dsn, MaxConns: 4})
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close() })
				out = append(out, st)
			}
			return out
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			nodes := open(t)
			const n = 6
			keys := make([]*ops.RecordKeys, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				keys[i] = ops.NewRecordKeys(nodes[i%len(nodes)], be, skey, "pkcs11", zerolog.Nop())
				wg.Go(func() { errs[i] = keys[i].Load(ctx, true) })
			}
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i], "node %d", i)
				require.True(t, keys[i].KeyOpen())
				defer keys[i].Close()
			}
			record := []byte("a record")
			for i := range n {
				mac, err := keys[i].MACRecord(ctx, "t", record)
				require.NoError(t, err)
				require.True(t, ops.IsKeyMAC(mac))
				for j := range n {
					assert.NoError(t, keys[j].VerifyRecord(ctx, "t", record, mac), "made by %d, verified by %d", i, j)
				}
				assert.ErrorIs(t, keys[i].VerifyRecord(ctx, "u", record, mac), backend.ErrIntegrity, "another tenant")
			}
		})
	}
}

// TestRecordKeyClosed: once closed, the key is gone: new MACs come from
// the SKEY again, and a MAC made with the key cannot be checked.
func TestRecordKeyClosed(t *testing.T) {
	ctx := context.Background()
	be := softHSMBackend(t)
	st := openBolt(t, filepath.Join(t.TempDir(), "store.db"))
	keys := ops.NewRecordKeys(st, be, hsmMACer(t, be), "pkcs11", zerolog.Nop())
	require.NoError(t, keys.Load(ctx, true))
	mac, err := keys.MACRecord(ctx, "t", []byte("r"))
	require.NoError(t, err)
	keys.Close()
	assert.False(t, keys.KeyOpen())
	after, err := keys.MACRecord(ctx, "t", []byte("r"))
	require.NoError(t, err)
	assert.False(t, ops.IsKeyMAC(after), "by the SKEY")
	assert.NoError(t, keys.VerifyRecord(ctx, "t", []byte("r"), after))
	assert.ErrorIs(t, keys.VerifyRecord(ctx, "t", []byte("r"), mac), backend.ErrUnavailable)
}

// TestRecordKeyNeedsRecordMACs: a root of trust that makes no record
// MACs (a Router of cloud KMSs only) gets no record MAC key: nothing is
// made in it or in the store, and records stay without a MAC.
func TestRecordKeyNeedsRecordMACs(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t, filepath.Join(t.TempDir(), "store.db"))
	be := noMACer{kmiptest.NewSoftBackend()}
	keys := ops.NewRecordKeys(st, be, be, "soft", zerolog.Nop())
	require.NoError(t, keys.Load(ctx, true))
	assert.False(t, keys.KeyOpen())
	mac, err := keys.MACRecord(ctx, "t", []byte("r"))
	require.NoError(t, err)
	assert.Empty(t, mac)
	_, err = st.GetTenant(ctx, ops.RecordKeyTenant)
	assert.ErrorIs(t, err, store.ErrNotFound, "no tenant key made for it")
	_, err = st.GetObject(ctx, ops.RecordKeyTenant, ops.RecordKeyID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestRecordKeyNotAtRest: the record MAC key is nowhere in the store file
// in clear, and Close clears it in memory.
func TestRecordKeyNotAtRest(t *testing.T) {
	ctx := context.Background()
	be := softHSMBackend(t)
	path := filepath.Join(t.TempDir(), "store.db")
	st, err := bbolt.Open(path)
	require.NoError(t, err)
	keys := ops.NewRecordKeys(st, be, hsmMACer(t, be), "pkcs11", zerolog.Nop())
	require.NoError(t, keys.Load(ctx, true))
	mem := ops.RecordKeyBytes(keys)
	require.Len(t, mem, 32)
	key := bytes.Clone(mem)
	require.NotEqual(t, make([]byte, 32), key)
	require.NoError(t, st.Close())
	file, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(file, key), "the key in clear in the store file")
	assert.False(t, bytes.Contains(file, key[:16]), "half the key in clear in the store file")
	keys.Close()
	assert.Equal(t, make([]byte, 32), mem, "cleared on Close")
}

// hsmMACer is the root of trust's own record MACer (SKEY in the HSM).
func hsmMACer(t testing.TB, be backend.Backend) backend.RecordMACer {
	t.Helper()
	m, ok := backend.As[backend.RecordMACer](be)
	require.True(t, ok, "the backend MACs records")
	return m
}
