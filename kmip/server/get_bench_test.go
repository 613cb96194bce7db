package server_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// BenchmarkExecuteGet is the server's side of `kmipctl bench --workload
// get` without the network: the executor as serve.go builds it (the
// pkcs11 backend on a SoftHSM2 token, the bbolt store, record MACs, the
// durable audit log with fsync) answering pre-encoded Get requests of
// prepared keys from 16 goroutines. It reports the process's CPU time per
// Get (cpu-ns/op, from getrusage: robust on a shared machine) beside the
// wall time.
//
//	go test ./kmip/server -run '^$' -bench ExecuteGet -benchmem
func BenchmarkExecuteGet(b *testing.B) {
	const softHSM2 = "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(softHSM2); err != nil {
		b.Skip("SoftHSM2 is not installed")
	}
	ctx := context.Background()
	dir := b.TempDir()
	conf, err := pkcs11.WriteSoftHSM2Conf(dir)
	require.NoError(b, err)
	pin := filepath.Join(dir, "pin")
	require.NoError(b, os.WriteFile(pin, []byte("1234\n"), 0o600))
	cfg := config.Default().Backend
	cfg.Type = "pkcs11"
	cfg.PKCS11.Module, cfg.PKCS11.SoftHSM2Conf, cfg.PKCS11.TokenLabel = softHSM2, conf, "server-bench"
	cfg.PKCS11.PIN = config.Secret{File: pin}
	cfg.PKCS11.TKEKCount = 1
	require.NoError(b, pkcs11.Provision(ctx, pkcs11.ProvisionOptions{PKCS11: cfg.PKCS11, SOPIN: "5678", UserPIN: "1234"}))
	be, err := backend.New(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(func() { _ = be.Close() })
	st, err := bbolt.Open(filepath.Join(dir, "store.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	key := make([]byte, audit.KeySize)
	_, _ = rand.Read(key)
	sink, err := audit.Open(audit.Options{Path: filepath.Join(dir, "audit.log"), Key: key})
	require.NoError(b, err)
	b.Cleanup(func() { _ = sink.Close() })
	log := zerolog.Nop()
	x := &server.Executor{Ops: ops.New(ops.Deps{Store: st, Backend: be, BackendType: "pkcs11", Log: log}), Log: log, Audit: sink, AuditRequired: true}

	v := message.V1_4
	var gets [][]byte
	for range 64 {
		id := kmiptest.NewAESKey(b, x, v)
		msg, err := client.EncodeRequest(client.RequestHeader{Version: v},
			[]client.Item{{Operation: kmip20.OperationGet, Payload: client.GetPayload(id, 0)}}, false, 0)
		require.NoError(b, err)
		answer(b, x, ctx, msg) // the first Get ends Fresh (a store write)
		gets = append(gets, msg)
	}
	peer := audit.WithPeer(ctx, audit.Peer{Remote: "127.0.0.1:1", Fingerprint: "sha256:00"})
	who := ops.Client{Tenant: kmiptest.Tenant, Name: "CN=bench"}
	var next atomic.Uint64
	b.SetParallelism(8) // 16 callers on 2 cores, like --conns 16
	b.ReportAllocs()
	b.ResetTimer()
	defer kmiptest.ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out := x.ExecuteFor(peer, who, gets[next.Add(1)%uint64(len(gets))])
			if err := kmiptest.OneItemOK(out); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func answer(b *testing.B, x *server.Executor, ctx context.Context, msg []byte) {
	b.Helper()
	require.NoError(b, kmiptest.OneItemOK(x.ExecuteFor(ctx, ops.Client{Tenant: kmiptest.Tenant}, msg)))
}
