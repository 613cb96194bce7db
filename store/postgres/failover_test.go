package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
)

// TestFailoverToPromotedStandby: a node given both servers of a
// primary/standby pair (several hosts, target_session_attrs=read-write)
// writes to the primary; the primary is stopped, the standby promoted.
// Meanwhile writes fail with ErrUnavailable (KMIP clients get a
// retryable error), the store finds the new primary by itself without
// being reopened, and no write it acknowledged is missing there.
func TestFailoverToPromotedStandby(t *testing.T) {
	server(t) // skips without PostgreSQL, like every test here
	primary, err := pgtest.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = primary.Close() })
	ctx := context.Background()
	require.NoError(t, primary.Exec(ctx, "postgres", "CREATE SCHEMA failover"))
	standby, err := primary.StartStandby()
	require.NoError(t, err)
	t.Cleanup(func() { _ = standby.Close() })

	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write&search_path=failover",
		primary.Port(), standby.Port())
	s, err := Open(ctx, Options{DSN: dsn, MaxConns: 8, ConnectTimeout: 2 * time.Second, QueryTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	var (
		mu        sync.Mutex
		acked     []string
		failures  int
		wrong     []string
		afterBack int
	)
	phase := make(chan struct{}) // closed once the standby is promoted
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%06d", w, i)
				err := s.CreateObject(ctx, &store.Object{TenantID: "t", ID: id, Material: []byte(id)})
				mu.Lock()
				switch {
				case err == nil:
					acked = append(acked, id)
					select {
					case <-phase:
						afterBack++
					default:
					}
				case errors.Is(err, store.ErrUnavailable):
					failures++
				default:
					wrong = append(wrong, err.Error())
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
			time.Sleep(20 * time.Millisecond)
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor("writes on the primary", func() bool { return count() >= 200 })

	require.NoError(t, primary.Stop())
	stoppedAt := count()
	waitFor("writes to fail", func() bool { mu.Lock(); defer mu.Unlock(); return failures >= 8 })
	assert.Equal(t, stoppedAt, count(), "a write acknowledged with no writable server")
	promoteStart := time.Now()
	require.NoError(t, standby.Promote(ctx))
	close(phase)
	waitFor("writes on the promoted standby", func() bool { mu.Lock(); defer mu.Unlock(); return afterBack >= 100 })
	recovered := time.Since(promoteStart)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, wrong, "errors other than ErrUnavailable")
	t.Logf("%d writes acknowledged (%d before the primary stopped, %d after promotion), %d refused as unavailable; writes back %s after pg_promote",
		len(acked), stoppedAt, afterBack, failures, recovered.Round(time.Millisecond))
	for _, id := range acked {
		o, err := s.GetObject(ctx, "t", id)
		if !assert.NoError(t, err, "acknowledged write %s lost", id) {
			continue
		}
		assert.Equal(t, []byte(id), o.Material)
	}
	n, err := s.CountObjects(ctx, store.ListQuery{TenantID: "t"})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, len(acked))
}
