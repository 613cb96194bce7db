package audit

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkSink measures durable records per second with 16 concurrent
// writers (as 16 KMIP connections would make them), with group commit and
// with one fsync per record (MaxBatch 1), and with one writer; each over
// preallocated space (the default) and appended (Preallocate -1), one
// after the other, so that -count pairs them. Run it on the disk the log
// will live on: b.TempDir() is under $TMPDIR. Besides records/s it
// reports the CPU time per record of this process and of the whole
// machine (/proc/stat busy time: it includes the file system's journal
// thread, which the fsyncs of appends keep busy; on a shared machine it
// includes the neighbours too).
//
//	go test -run '^$' -bench Sink -benchtime 3s ./audit/
func BenchmarkSink(b *testing.B) {
	cases := []struct {
		name     string
		writers  int
		maxBatch int
		noSync   bool
	}{
		{"group-commit/16-writers", 16, 0, false},
		{"fsync-per-record/16-writers", 16, 1, false},
		{"group-commit/1-writer", 1, 0, false},
		{"no-sync/16-writers", 16, 0, true},
	}
	for _, bc := range cases {
		for _, mode := range []struct {
			name        string
			preallocate int64
		}{{"prealloc", 0}, {"append", -1}} {
			if bc.noSync && mode.preallocate == 0 {
				continue // never preallocated
			}
			b.Run(bc.name+"/"+mode.name, func(b *testing.B) {
				s, err := Open(Options{Path: filepath.Join(b.TempDir(), "audit.log"), Key: testKey(b), MaxBatch: bc.maxBatch, NoSync: bc.noSync, Preallocate: mode.preallocate})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				e := event(1)
				before := s.Commits()
				proc0, machine0 := cpuNow()
				b.ResetTimer()
				if bc.writers == 1 {
					for i := 0; i < b.N; i++ {
						if err := s.Record(context.Background(), e); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism((bc.writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := s.Record(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.StopTimer()
				proc1, machine1 := cpuNow()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(b.N)/float64(max(1, s.Commits()-before)), "records/commit")
				b.ReportMetric(float64((proc1-proc0).Microseconds())/float64(b.N), "proc-cpu-µs/record")
				if machine0 > 0 {
					b.ReportMetric(float64((machine1-machine0).Microseconds())/float64(b.N), "machine-cpu-µs/record")
				}
				b.ReportMetric(float64(s.ExtendingWrites())/float64(max(1, s.Commits()-before)), "extending/commit")
			})
		}
	}
}

// BenchmarkVerify measures how fast `kmipctl audit verify` walks a log.
func BenchmarkVerify(b *testing.B) {
	key := testKey(b)
	path := filepath.Join(b.TempDir(), "audit.log")
	s, err := Open(Options{Path: path, Key: key, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 20000
	events := make([]Event, 100)
	for i := range events {
		events[i] = event(i)
	}
	for i := 0; i < n/len(events); i++ {
		if err := s.RecordAll(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Verify(path, key)
		if err != nil || rep.Problem != nil {
			b.Fatal(err, rep.Problem)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
