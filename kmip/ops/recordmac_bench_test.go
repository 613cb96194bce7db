package ops_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

const softHSM2 = "/usr/lib/softhsm/libsofthsm2.so"

// softHSMBackend provisions a SoftHSM2 token in a temporary directory and
// opens the pkcs11 backend on it.
func softHSMBackend(b testing.TB) backend.Backend {
	if _, err := os.Stat(softHSM2); err != nil {
		b.Skip("SoftHSM2 is not installed")
	}
	dir := b.TempDir()
	conf, err := pkcs11.WriteSoftHSM2Conf(dir)
	require.NoError(b, err)
	pin := filepath.Join(dir, "pin")
	require.NoError(b, os.WriteFile(pin, []byte("1234\n"), 0o600))
	cfg := config.Default().Backend
	cfg.Type = "pkcs11"
	cfg.PKCS11.Module, cfg.PKCS11.SoftHSM2Conf, cfg.PKCS11.TokenLabel = softHSM2, conf, "ops-bench"
	cfg.PKCS11.PIN = config.Secret{File: pin}
	cfg.PKCS11.TKEKCount = 1
	ctx := context.Background()
	require.NoError(b, pkcs11.Provision(ctx, pkcs11.ProvisionOptions{PKCS11: cfg.PKCS11, SOPIN: "5678", UserPIN: "1234"}))
	be, err := backend.New(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(func() { _ = be.Close() })
	return be
}

// BenchmarkRecordMACs measures Create and Get of an AES key through the
// operations on SoftHSM2 with record MACs of the record MAC key (key),
// of the HSM's SKEY (skey, Deps.RecordMACsBySKEY) and without
// (Deps.NoRecordMACs), and the verification a Get of a record not in the
// verified cache pays (VerifyRecord).
func BenchmarkRecordMACs(b *testing.B) {
	be := softHSMBackend(b)
	v := message.V2_0
	for _, mode := range []struct {
		name      string
		off, skey bool
	}{{"key", false, false}, {"skey", false, true}, {"none", true, false}} {
		st, err := bbolt.Open(filepath.Join(b.TempDir(), "store.db"))
		require.NoError(b, err)
		log := zerolog.Nop()
		svc := ops.New(ops.Deps{Store: st, Backend: be, BackendType: "pkcs11", Log: log, NoRecordMACs: mode.off, RecordMACsBySKEY: mode.skey})
		x := &server.Executor{Ops: svc, Log: log}
		b.Run("Create/"+mode.name, func(b *testing.B) {
			defer kmiptest.ReportCPU(b)()
			for b.Loop() {
				kmiptest.NewAESKey(b, x, v)
			}
		})
		id := kmiptest.NewAESKey(b, x, v)
		b.Run("Get/"+mode.name, func(b *testing.B) {
			defer kmiptest.ReportCPU(b)()
			for b.Loop() {
				it := kmiptest.Exec1(b, x, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id})
				if it.ResultStatus != kmip14.ResultStatusSuccess {
					b.Fatal(it.ResultMessage)
				}
			}
		})
		if !mode.off {
			rec, err := st.GetObject(context.Background(), kmiptest.Tenant, id)
			require.NoError(b, err)
			hsmMACer, ok := backend.As[backend.RecordMACer](be)
			require.True(b, ok)
			var macer backend.RecordMACer = ops.NewRecordKeys(st, be, hsmMACer, "pkcs11", zerolog.Nop())
			require.NoError(b, macer.(*ops.RecordKeys).Load(context.Background(), false))
			input := store.RecordMACInput(rec, rec.Revision)
			b.Run("VerifyRecord/"+mode.name, func(b *testing.B) {
				defer kmiptest.ReportCPU(b)()
				for b.Loop() {
					if err := macer.VerifyRecord(context.Background(), rec.TenantID, input, rec.MAC); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		_ = svc.Close()
		_ = st.Close()
	}
}

// BenchmarkRecordKeyMAC compares one record MAC and one verification (a
// 512-byte record, as backend/pkcs11's BenchmarkRecordMAC) made by the
// HSM's SKEY and by the record MAC key in the adapter.
func BenchmarkRecordKeyMAC(b *testing.B) {
	be := softHSMBackend(b)
	ctx := context.Background()
	skey := hsmMACer(b, be)
	st, err := bbolt.Open(filepath.Join(b.TempDir(), "store.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	keys := ops.NewRecordKeys(st, be, skey, "pkcs11", zerolog.Nop())
	require.NoError(b, keys.Load(ctx, true))
	b.Cleanup(keys.Close)
	record := bytes.Repeat([]byte("r"), 512)
	for _, m := range []struct {
		name  string
		macer backend.RecordMACer
	}{{"skey", skey}, {"key", keys}} {
		mac, err := m.macer.MACRecord(ctx, "bench", record)
		require.NoError(b, err)
		b.Run("MAC/"+m.name, func(b *testing.B) {
			defer kmiptest.ReportCPU(b)()
			for b.Loop() {
				if _, err := m.macer.MACRecord(ctx, "bench", record); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Verify/"+m.name, func(b *testing.B) {
			defer kmiptest.ReportCPU(b)()
			for b.Loop() {
				if err := m.macer.VerifyRecord(ctx, "bench", record, mac); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("VerifyParallel/"+m.name, func(b *testing.B) {
			defer kmiptest.ReportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := m.macer.VerifyRecord(ctx, "bench", record, mac); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
