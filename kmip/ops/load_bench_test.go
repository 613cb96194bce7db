package ops

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// BenchmarkLoadArchived is the load path of every operation on an
// object (a Get's record read): the bbolt store's read and decode, the
// record MAC check (answered by the verified-record cache) and the
// attribute list's decode, for an AES key's record as Create writes it;
// macs=none is a store without record MACs.
//
//	go test ./kmip/ops -run '^$' -bench LoadArchived -benchmem
func BenchmarkLoadArchived(b *testing.B) {
	var l attr.List
	l.Set(attr.CryptographicAlgorithm, attr.Enum(3))
	l.Set(attr.CryptographicLength, attr.Int(256))
	l.Set(attr.CryptographicUsageMask, attr.Int(12))
	l.Add(attr.Name, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Text("kmipctl-fill-1a2b3c4d-123456"), ttlv.Tag(0x420055)), attr.Retag(attr.Enum(1), ttlv.Tag(0x420054))))
	l.Set(attr.UniqueIdentifier, attr.Text("6f1c7d7e-1b8a-4f0e-9d55-2b6c36a0a001"))
	l.Set("Short Unique Identifier", attr.Bytes(make([]byte, 32)))
	l.Set(attr.ObjectType, attr.Enum(2))
	l.Set(attr.State, attr.Enum(1))
	l.Set(attr.InitialDate, attr.Date(time.Unix(1700000000, 0)))
	l.Set(attr.LastChangeDate, attr.Date(time.Unix(1700000000, 0)))
	l.Set(attr.OriginalCreationDate, attr.Date(time.Unix(1700000000, 0)))
	l.Set(attr.Fresh, attr.Bool(false))
	l.Set(attr.Sensitive, attr.Bool(false))
	l.Set(attr.AlwaysSensitive, attr.Bool(false))
	l.Set(attr.Extractable, attr.Bool(true))
	l.Set(attr.NeverExtractable, attr.Bool(false))
	l.Set(attr.Digest, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Enum(6), ttlv.Tag(0x420034)), attr.Retag(attr.Bytes(make([]byte, 32)), ttlv.Tag(0x420035)), attr.Retag(attr.Enum(1), ttlv.Tag(0x420042))))
	l.Set("Key Format Type", attr.Enum(1))
	list, err := l.Marshal()
	require.NoError(b, err)
	for _, mode := range []struct {
		name string
		off  bool
	}{{"macs=on", false}, {"macs=none", true}} {
		b.Run(mode.name, func(b *testing.B) {
			st, err := bbolt.Open(filepath.Join(b.TempDir(), "store.db"))
			require.NoError(b, err)
			b.Cleanup(func() { _ = st.Close() })
			s := New(Deps{Store: st, Backend: &goMACer{}, BackendType: "soft", Log: zerolog.Nop(), RecordMACsBySKEY: true, NoRecordMACs: mode.off})
			ctx := context.Background()
			o := &store.Object{TenantID: "t", ID: "6f1c7d7e-1b8a-4f0e-9d55-2b6c36a0a001", ObjectType: 2, State: 1,
				Names: []string{"kmipctl-fill-1a2b3c4d-123456"}, Attributes: list, Material: make([]byte, 60), Index: indexEntries(l)}
			require.NoError(b, s.store.CreateObject(ctx, o))
			call := &Call{Tenant: "t"}
			b.ReportAllocs()
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				if _, err := s.loadArchived(ctx, call, o.ID); err != nil {
					b.Fatal(err)
				}
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
