package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store/postgres"
)

// TestCrashSafetyPostgres is TestCrashSafety with store.type postgres:
// 16 clients create, register, fetch and modify objects while the node is
// killed with SIGKILL, round after round; after each restart every object
// a client was told exists is there with the material that client
// received and every acknowledged change stands; at the end every object
// in the database decodes and opens in the HSM. A node killed in the
// middle of a transaction leaves nothing of it: PostgreSQL rolls back
// what the dead connection had not committed.
func TestCrashSafetyPostgres(t *testing.T) {
	const clients = 16
	e := newPGEnv(t, "crash")
	l := newLedger()
	rounds := crashRounds()
	checked := 0
	for round := 1; round <= rounds; round++ {
		s := e.node(t)
		if round > 1 {
			checked += verifyLedger(t, s, l)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() { crashClient(t, s, l, stop) })
		}
		time.Sleep(2*time.Second + time.Duration(round%3)*700*time.Millisecond)
		kill(t, s)
		close(stop)
		wg.Wait()
		l.mu.Lock()
		t.Logf("round %d: killed under load; %d objects acknowledged so far, %d counter changes in flight", round, len(l.material), len(l.inflight))
		l.mu.Unlock()
	}
	s := e.node(t)
	checked += verifyLedger(t, s, l)
	_, err := s.stopCleanly()
	require.NoError(t, err)

	st, err := postgres.Open(context.Background(), postgres.Options{DSN: e.dsn})
	require.NoError(t, err)
	defer st.Close()
	opened, inFlight := checkObjects(t, st, e.dir, l)
	t.Logf("%d kills; %d object checks through the server after restarts; store check: %d objects opened, %d acknowledged, %d created while the node was killed",
		rounds, checked, opened, len(l.material), inFlight)
}
