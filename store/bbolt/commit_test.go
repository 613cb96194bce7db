package bbolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// TestGroupCommit: concurrent writes share transactions (fewer commits
// than writes), every acknowledged write is on disk after a reopen, and a
// write that fails inside a group fails alone with its own error.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "t", ID: "taken", ObjectType: 2}))

	const writers = 64
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("k%02d", i)
			if i%16 == 0 {
				id = "taken" // fails inside whatever group it lands in
			}
			errs[i] = s.CreateObject(ctx, &store.Object{TenantID: "t", ID: id, ObjectType: 2, Names: []string{id}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%16 == 0 {
			assert.ErrorIs(t, err, store.ErrExists, "writer %d", i)
		} else {
			assert.NoError(t, err, "writer %d", i)
		}
	}
	commits := s.writes.commits.Load()
	t.Logf("%d writes in %d commits", writers+1, commits)
	assert.Less(t, commits, int64(writers), "concurrent writes share commits")
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	for i := range writers {
		if i%16 == 0 {
			continue
		}
		id := fmt.Sprintf("k%02d", i)
		o, err := s.GetObject(ctx, "t", id)
		require.NoError(t, err, id)
		assert.Equal(t, []string{id}, o.Names)
	}
}

// TestGroupCommitPanic: a write that panics is taken out of its group and
// run alone by its caller, where it panics as it did before group commit;
// the committer keeps serving the others.
func TestGroupCommitPanic(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
	require.NoError(t, err)
	defer s.Close()
	assert.Panics(t, func() { _ = s.writes.update(func(*bolt.Tx) error { panic("boom") }) })
	require.NoError(t, s.CreateObject(context.Background(), &store.Object{TenantID: "t", ID: "k", ObjectType: 2}))
}

// TestCloseCommitsQueued: Close waits for queued writes, and a write after
// Close fails as unavailable.
func TestCloseCommitsQueued(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
	require.NoError(t, err)
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "t", ID: "k", ObjectType: 2}))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close does nothing")
	err = s.CreateObject(ctx, &store.Object{TenantID: "t", ID: "k2", ObjectType: 2})
	assert.True(t, errors.Is(err, store.ErrUnavailable), "%v", err)
}

// BenchmarkCreateConcurrent: Creates from 16 goroutines, as 16 KMIP
// connections make them; it reports the writes per commit.
func BenchmarkCreateConcurrent(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "kmip.db"))
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	attrs := make([]byte, 600)
	var n atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("%08d-0000-4000-8000-%012d", n.Add(1), n.Load())
			o := &store.Object{TenantID: "t", ID: id, ObjectType: 2, State: 1, Attributes: attrs, Material: make([]byte, 60),
				Index: []store.IndexEntry{{Key: "Cryptographic Algorithm", Value: []byte{3}}}}
			if err := s.CreateObject(ctx, o); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(s.writes.commits.Load()), "writes/commit")
}
