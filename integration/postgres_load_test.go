package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadSecondsEnv lengthens the load test (default: a few seconds per
// phase, to keep `make test` short); KMIP_PG_LOAD_SECONDS=60 gives each
// phase a minute.
const loadSecondsEnv = "KMIP_PG_LOAD_SECONDS"

// loadClients is how many clients the load test runs at once.
const loadClients = 32

// loadRun is what the clients of one load phase did.
type loadRun struct {
	mu sync.Mutex
	// acked maps the name of every key whose Create was answered to its
	// identifier: the keys the store must never lose.
	acked map[string]string
	// hotAdds counts the answered AddAttribute calls on the shared key.
	hotAdds atomic.Int64
	ops     atomic.Int64
	// conflicts counts the answers "object changed concurrently; retry"
	// on the shared key, which the client retried.
	conflicts atomic.Int64
	// errs holds every failure of a client whose node was not killed.
	errs []error
}

func (r *loadRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// worker creates, changes and reads keys through c until stop is closed:
// Create AES-256 with a name, Activate, Add Attribute, Get; every tenth
// round an Add Attribute on the key all the clients share, so that the
// nodes update one record at the same time. A client whose node dies
// stops at its first error without reporting it (dead is closed then).
// A key's name says which phase and client made it.
func (r *loadRun) worker(c *kmipclient.Client, prefix string, w int, hot string, stop, dead <-chan struct{}) {
	usage := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		name := fmt.Sprintf("%s-w%02d-%05d", prefix, w, i)
		step := func(what string, err error) bool {
			if err == nil {
				r.ops.Add(1)
				return true
			}
			select {
			case <-dead:
			default:
				r.fail(fmt.Errorf("client %d, %s %s: %w", w, what, name, err))
			}
			return false
		}
		created, err := c.Create().AES(256, usage).WithName(name).Exec()
		if !step("Create", err) {
			return
		}
		id := created.UniqueIdentifier
		r.mu.Lock()
		r.acked[name] = id
		r.mu.Unlock()
		if _, err := c.Activate(id).Exec(); !step("Activate", err) {
			return
		}
		if _, err := c.AddAttribute(id, "x-Client", strconv.Itoa(w)).Exec(); !step("AddAttribute", err) {
			return
		}
		if _, err := c.Get(id).Exec(); !step("Get", err) {
			return
		}
		if (i+w)%10 == 0 {
			// The server retries a change that lost a race a few times,
			// then answers that the object changed concurrently and the
			// client should retry: with every client on one key, a client
			// does.
			var err error
			for attempt := 0; attempt < 10; attempt++ {
				if _, err = c.AddAttribute(hot, "x-Hit", name).Exec(); err == nil || !strings.Contains(err.Error(), "object changed concurrently; retry") {
					break
				}
				r.conflicts.Add(1)
			}
			if !step("AddAttribute to the shared key", err) {
				return
			}
			r.hotAdds.Add(1)
		}
	}
}

// TestPostgresLoad runs many clients over two nodes on one PostgreSQL
// database: first all on node A (the one-node figure), then spread over
// A and B, and then A is killed (SIGKILL) in the middle of the load. No
// client of a running node may see an error; no acknowledged key may be
// lost or duplicated, including those A acknowledged just before it died;
// and concurrent changes of one shared key by both nodes lose no update.
func TestPostgresLoad(t *testing.T) {
	phase := 3 * time.Second
	if v := os.Getenv(loadSecondsEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, loadSecondsEnv)
		phase = time.Duration(n) * time.Second
	}
	e := newPGEnv(t, "load")
	a := e.node(t)
	b := e.node(t)

	r := &loadRun{acked: map[string]string{}}
	setup := ovhDial(t, b, kmip.V1_4)
	hotKey, err := setup.Create().AES(256, kmip.CryptographicUsageEncrypt).WithName("hot").Exec()
	require.NoError(t, err)
	hot := hotKey.UniqueIdentifier

	// run starts one client per entry of nodes and lets them work for d,
	// then stops them. It returns the operations per second: over the
	// whole phase, or, when during is set, over the first half, after
	// which it calls during.
	run := func(prefix string, nodes []*server, d time.Duration, during func(), dead chan struct{}) float64 {
		clients := make([]*kmipclient.Client, len(nodes))
		for i, n := range nodes {
			clients[i] = ovhDial(t, n, kmip.V1_4)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		start, before := time.Now(), r.ops.Load()
		for w, c := range clients {
			wg.Go(func() { r.worker(c, prefix, w, hot, stop, dead) })
		}
		var rate float64
		if during != nil {
			time.Sleep(d / 2)
			rate = float64(r.ops.Load()-before) / time.Since(start).Seconds()
			during()
			time.Sleep(d / 2)
		} else {
			time.Sleep(d)
		}
		close(stop)
		wg.Wait()
		if during == nil {
			rate = float64(r.ops.Load()-before) / time.Since(start).Seconds()
		}
		return rate
	}

	onA := make([]*server, loadClients)
	spread := make([]*server, loadClients)
	for i := range loadClients {
		onA[i] = a
		spread[i] = []*server{a, b}[i%2]
	}
	oneNode := run("one", onA, phase, nil, nil)
	ackedOne := len(r.acked)
	dead := make(chan struct{})
	twoNodes := run("two", spread, 2*phase, func() {
		close(dead) // from now on, errors of A's clients are expected
		kill(t, a)
	}, dead)
	t.Logf("%d clients: %.0f operations/s on one node, %.0f/s on two nodes (before A was killed); %d keys created on one node, %d in all; %d changes of the shared key, %d retried after a concurrent change",
		loadClients, oneNode, twoNodes, ackedOne, len(r.acked), r.hotAdds.Load(), r.conflicts.Load())

	for _, err := range r.errs {
		t.Errorf("a client of a running node failed: %v", err)
	}
	if len(r.errs) > 0 {
		t.Logf("node B's warnings: %s", logLines(b, `"level":"warn"`))
	}

	// Every acknowledged key is stored once, under its name; a key A made
	// but could not acknowledge before it died may be there too.
	stored := e.storedObjects(t, "default")
	owner := map[string]string{} // name -> id
	for id, names := range stored {
		for _, n := range names {
			if prev, dup := owner[n]; dup {
				t.Errorf("name %s on two objects: %s and %s", n, prev, id)
			}
			owner[n] = id
		}
	}
	for name, id := range r.acked {
		if owner[name] != id {
			t.Errorf("acknowledged key %s (%s) lost: stored as %q", name, id, owner[name])
		}
	}
	// +1: the shared key.
	unacked := len(stored) - len(r.acked) - 1
	assert.GreaterOrEqual(t, unacked, 0)
	assert.LessOrEqual(t, unacked, loadClients/2, "at most one unanswered Create per client of the killed node")

	// The survivor serves every acknowledged key, whichever node made it.
	cb := ovhDial(t, b, kmip.V1_4)
	checked := 0
	for name, id := range r.acked {
		if checked == 50 {
			break
		}
		checked++
		found, err := cb.Locate().WithName(name).Exec()
		require.NoError(t, err)
		assert.Equal(t, []string{id}, found.UniqueIdentifier, "Locate %s on node B", name)
		_, err = cb.Get(id).Exec()
		require.NoError(t, err, "Get %s on node B", id)
	}

	// Each answered AddAttribute on the shared key left its instance: no
	// update lost between the nodes (one cut short by the kill may have
	// landed too).
	attrs, err := cb.GetAttributes(hot, "x-Hit").Exec()
	require.NoError(t, err)
	hits := map[string]bool{}
	for _, at := range attrs.Attribute {
		v, _ := at.AttributeValue.(ttlv.Value)
		s, _ := v.Value.(string)
		if hits[s] {
			t.Errorf("x-Hit %s twice on the shared key", s)
		}
		hits[s] = true
	}
	assert.GreaterOrEqual(t, int64(len(hits)), r.hotAdds.Load(), "instances of x-Hit on the shared key")
	assert.LessOrEqual(t, int64(len(hits)), r.hotAdds.Load()+loadClients/2)
}
