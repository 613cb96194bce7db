package audit

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// BenchmarkSinkHeads measures what checkpointing the chain head costs 16
// concurrent writers, with the heads in a bbolt store on the same disk
// (each head write is an fsync of its own): no checkpoints, the default
// cadence (1000 records or 1 s), and a checkpoint after every commit
// (HeadEvery 1: what "a head per record" would cost at best, since the
// heads are written beside the log writer and coalesce).
//
//	go test -run '^$' -bench SinkHeads -benchtime 3s ./audit/
func BenchmarkSinkHeads(b *testing.B) {
	cases := []struct {
		name  string
		heads bool
		every int
	}{
		{"no-checkpoints", false, 0},
		{"default-1000-or-1s", true, 0},
		{"every-commit", true, 1},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			opts := Options{Path: filepath.Join(dir, "audit.log"), Key: testKey(b)}
			var st *bbolt.Store
			if bc.heads {
				var err error
				if st, err = bbolt.Open(filepath.Join(dir, "store.db")); err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				opts.Heads, opts.HeadEvery = &StoreHeads{Store: st, Node: "bench"}, bc.every
			}
			s, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			e := event(1)
			b.ResetTimer()
			start := time.Now()
			b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Record(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			took := time.Since(start)
			var writes uint64
			if s.heads != nil {
				writes, _, _ = s.heads.stats()
			}
			_ = s.Close()
			b.ReportMetric(float64(b.N)/took.Seconds(), "records/s")
			b.ReportMetric(float64(writes)/took.Seconds(), "heads/s")
		})
	}
}
