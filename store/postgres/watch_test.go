package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
)

// watchChanges starts s.Watch and returns the channel of its changes,
// after the first resync (the listener is up).
func watchChanges(t *testing.T, s *Store) <-chan store.Change {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan store.Change, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, func(c store.Change) { ch <- c })
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case c := <-ch:
		require.Equal(t, store.ChangeResync, c.Kind, "the first report says the watch is (re)established")
	case <-time.After(10 * time.Second):
		t.Fatal("the watch never started")
	}
	assert.True(t, s.Watching())
	return ch
}

func nextChange(t *testing.T, ch <-chan store.Change, within time.Duration) (store.Change, time.Duration, bool) {
	t.Helper()
	start := time.Now()
	select {
	case c := <-ch:
		return c, time.Since(start), true
	case <-time.After(within):
		return store.Change{}, within, false
	}
}

// TestWatchSeesRegistryChangesOfOtherNodes: a registry change made
// through one store (node A) reaches the watcher of another (node B) on
// the same schema at once; one rolled back is never reported, and a
// change in another schema of the database is not this store's.
func TestWatchSeesRegistryChangesOfOtherNodes(t *testing.T) {
	srv := server(t)
	dsn := freshDSN(t, srv)
	a, b := open(t, dsn), open(t, dsn)
	other := open(t, freshDSN(t, srv))
	ch := watchChanges(t, b)
	ctx := context.Background()

	start := time.Now()
	require.NoError(t, a.PutTenant(ctx, &store.Tenant{ID: "t1", Backend: "pkcs11", KeyBlob: []byte{1}}))
	c, _, ok := nextChange(t, ch, 5*time.Second)
	require.True(t, ok, "no notification of the tenant create")
	assert.Equal(t, store.ChangeRegistry, c.Kind)
	t.Logf("tenant created on A seen by B's watcher after %s", time.Since(start))

	require.NoError(t, a.PutClient(ctx, &store.Client{TenantID: "t1", Name: "c1", Enabled: true, Fingerprint: "sha256:00"}))
	_, _, ok = nextChange(t, ch, 5*time.Second)
	require.True(t, ok, "no notification of the client create")
	start = time.Now()
	require.NoError(t, a.DeleteClient(ctx, "t1", "c1"))
	_, took, ok := nextChange(t, ch, 5*time.Second)
	require.True(t, ok, "no notification of the client removal")
	t.Logf("client removed on A seen by B's watcher after %s", took)
	assert.Less(t, time.Since(start), time.Second)

	// Rolled back: nothing is sent.
	errRollback := assert.AnError
	err := a.Update(ctx, func(tx store.Store) error {
		require.NoError(t, tx.PutTenant(ctx, &store.Tenant{ID: "t2", Backend: "pkcs11", KeyBlob: []byte{2}}))
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	// Another schema's change is not ours.
	require.NoError(t, other.PutTenant(ctx, &store.Tenant{ID: "t3", Backend: "pkcs11", KeyBlob: []byte{3}}))
	// Object writes send nothing (nodes do not cache objects).
	require.NoError(t, a.CreateObject(ctx, &store.Object{TenantID: "t1", ID: "o1", ObjectType: 2, State: 1}))
	c, _, ok = nextChange(t, ch, 500*time.Millisecond)
	assert.False(t, ok, "unexpected change %+v", c)
}

// TestWatchResyncsAfterLostConnection: when the listening connection is
// killed, the watcher reconnects by itself, says so with a resync, and
// sees changes again.
func TestWatchResyncsAfterLostConnection(t *testing.T) {
	srv := server(t)
	dsn := freshDSN(t, srv)
	a, b := open(t, dsn), open(t, dsn)
	ch := watchChanges(t, b)
	ctx := context.Background()
	// Kill every other session that listens: B's listener.
	_, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`)
	require.NoError(t, err)
	c, _, ok := nextChange(t, ch, 10*time.Second)
	require.True(t, ok, "no resync after the listener was killed")
	assert.Equal(t, store.ChangeResync, c.Kind)
	require.NoError(t, a.PutTenant(ctx, &store.Tenant{ID: "t1", Backend: "pkcs11", KeyBlob: []byte{1}}))
	c, _, ok = nextChange(t, ch, 5*time.Second)
	require.True(t, ok, "no notification after the reconnect")
	assert.Equal(t, store.ChangeRegistry, c.Kind)
}

// TestWatchSurvivesQuietPeriods: a listening connection that hears
// nothing is pinged after each quiet period and keeps listening on the
// same connection (no resync), then still reports a change.
func TestWatchSurvivesQuietPeriods(t *testing.T) {
	srv := server(t)
	dsn := freshDSN(t, srv)
	a, b := open(t, dsn), open(t, dsn)
	b.watchPing = 50 * time.Millisecond
	ch := watchChanges(t, b)
	time.Sleep(400 * time.Millisecond) // several quiet periods and pings
	assert.True(t, b.Watching())
	require.NoError(t, a.PutTenant(context.Background(), &store.Tenant{ID: "t1", Backend: "pkcs11", KeyBlob: []byte{1}}))
	c, _, ok := nextChange(t, ch, 5*time.Second)
	require.True(t, ok, "no notification after quiet periods")
	assert.Equal(t, store.ChangeRegistry, c.Kind, "the same connection still listens (no resync)")
}

// BenchmarkPutCheckpoint is the cost of one audit head checkpoint: what
// a node pays once a second (or per 1000 records) with checkpoints, and
// would pay per group commit if heads were stored with every record.
func BenchmarkPutCheckpoint(b *testing.B) {
	if sharedErr != nil {
		b.Skip(sharedErr)
	}
	s, err := Open(context.Background(), Options{DSN: freshDSNB(b, shared), MaxConns: 2})
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	c := &store.Checkpoint{Kind: store.CheckpointAuditHead, ID: "0123456789abcdef0123456789abcdef", Node: "bench", Data: []byte(`{"seq":1,"mac":"00"}`)}
	require.NoError(b, s.PutCheckpoint(ctx, c))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Data = []byte(fmt.Sprintf(`{"seq":%d,"mac":"0000000000000000000000000000000000000000000000000000000000000000","time":"2026-11-30T12:00:00Z"}`, i+2))
		if err := s.PutCheckpoint(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func freshDSNB(b *testing.B, srv *pgtest.Server) string {
	dsn, err := srv.CreateSchema(context.Background(), fmt.Sprintf("b%d_%d", os.Getpid(), schemaSeq.Add(1)))
	require.NoError(b, err)
	return dsn
}
