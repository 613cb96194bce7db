package ops_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// BenchmarkGetSoft is a Get's cost in the adapter's own code: the
// executor, the operations with record MACs (an HMAC in Go, mostly
// answered by the verified-record cache) and the bbolt store, on the
// Go backend of kmiptest instead of an HSM and without an audit sink,
// so that what a change to the load path saves is not lost in the
// HSM's and the audit's noise. macs=none is the path of a store
// without record MACs (the attribute list checked on every read).
//
//	go test ./kmip/ops -run '^$' -bench GetSoft -benchmem
func BenchmarkGetSoft(b *testing.B) {
	for _, mode := range []struct {
		name string
		off  bool
	}{{"macs=on", false}, {"macs=none", true}} {
		b.Run(mode.name, func(b *testing.B) {
			st, err := bbolt.Open(filepath.Join(b.TempDir(), "store.db"))
			require.NoError(b, err)
			b.Cleanup(func() { _ = st.Close() })
			log := zerolog.Nop()
			be := &hmacMACer{SoftBackend: kmiptest.NewSoftBackend()}
			x := &server.Executor{Ops: ops.New(ops.Deps{Store: st, Backend: be, BackendType: "soft", Log: log, RecordMACsBySKEY: true, NoRecordMACs: mode.off}), Log: log}
			v := message.V1_4
			var gets [][]byte
			for i := range 16 {
				id := kmiptest.NewAESKey(b, x, v, kmiptest.Attr1{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: fmt.Sprintf("bench-key-%d", i), NameType: kmip14.NameTypeUninterpretedTextString}})
				msg, err := client.EncodeRequest(client.RequestHeader{Version: v},
					[]client.Item{{Operation: kmip20.OperationGet, Payload: client.GetPayload(id, 0)}}, false, 0)
				require.NoError(b, err)
				require.NoError(b, kmiptest.OneItemOK(x.ExecuteFor(context.Background(), ops.Client{Tenant: kmiptest.Tenant}, msg)))
				gets = append(gets, msg)
			}
			ctx := context.Background()
			who := ops.Client{Tenant: kmiptest.Tenant, Name: "CN=bench"}
			b.ReportAllocs()
			defer kmiptest.ReportCPU(b)()
			i := 0
			for b.Loop() {
				out := x.ExecuteFor(ctx, who, gets[i%len(gets)])
				i++
				if len(out) == 0 {
					b.Fatal("no answer")
				}
			}
		})
	}
}
