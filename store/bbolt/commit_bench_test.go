package bbolt

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkCreateDurable measures Create as the server does it: 16
// writers, random (UUID) identifiers, every write durable through the
// group commit, on an empty store and on one of KMIP_BENCH_OBJECTS
// objects. It reports the pages bbolt writes per commit and the writes
// per commit, the figures the store's options change:
//
//	go test ./store/bbolt -run '^$' -bench CreateDurable -benchtime 4000x
func BenchmarkCreateDurable(b *testing.B) {
	for _, size := range []string{"empty", "filled"} {
		for _, ids := range []string{"random", "ordered"} {
			b.Run(size+"/"+ids, func(b *testing.B) {
				dir := b.TempDir()
				s, err := Open(filepath.Join(dir, "kmip.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if size == "filled" {
					if err := fill(s, benchTenant, benchObjects(b)); err != nil {
						b.Fatal(err)
					}
				}
				ctx := context.Background()
				var ru0 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				after, n := durableWrites(b, s, func(i int) error {
					o := benchObject(benchTenant, 1<<30+i)
					o.ID = uuid.NewString()
					if ids == "ordered" {
						o.ID = uuid.Must(uuid.NewV7()).String()
					}
					return s.CreateObject(ctx, o)
				})
				var ru1 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				b.ReportMetric(float64(time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()))/float64(b.N), "cpu-ns/op")
				if fi, err := os.Stat(filepath.Join(dir, "kmip.db")); err == nil {
					b.Logf("%s: file %d MiB, freelist %d free + %d pending pages (%d bytes), %d commits", size, fi.Size()>>20, after.FreePageN, after.PendingPageN, after.FreelistInuse, n)
				}
			})
		}
	}
}

// BenchmarkUpdateDurable measures UpdateObject as a Get's Fresh flag or an
// attribute edit does it: 16 writers, each rewriting the record of one of
// KMIP_BENCH_OBJECTS objects with its indexed values unchanged, every
// write durable through the group commit. It reports the pages bbolt
// writes per commit:
//
//	go test ./store/bbolt -run '^$' -bench UpdateDurable -benchtime 4000x
func BenchmarkUpdateDurable(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(filepath.Join(dir, "kmip.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := benchObjects(b)
	if err := fill(s, benchTenant, n); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	durableWrites(b, s, func(i int) error {
		// Spread over the store, each object once per round.
		o, err := s.GetObject(ctx, benchTenant, benchObject(benchTenant, i*7919%n).ID)
		if err != nil {
			return err
		}
		o.Attributes = append(o.Attributes, 0)
		return s.UpdateObject(ctx, o)
	})
}

// durableWrites times b.N calls of write, write(0) to write(b.N-1), made
// by 16 concurrent writers as the server's connections make them, and
// reports the pages bbolt wrote per group commit and the writes per
// commit. It returns the database's statistics after the writes and the
// number of commits.
func durableWrites(b *testing.B, s *Store, write func(i int) error) (bolt.Stats, int64) {
	const writers = 16
	before, commits := s.db.Stats(), s.writes.commits.Load()
	b.ResetTimer()
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := write(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	after, n := s.db.Stats(), s.writes.commits.Load()-commits
	d := after.TxStats.Sub(&before.TxStats)
	b.ReportMetric(float64(d.GetWrite())/float64(n), "pages/commit")
	b.ReportMetric(float64(b.N)/float64(n), "writes/commit")
	return after, n
}
