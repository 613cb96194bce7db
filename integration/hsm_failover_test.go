package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// requireP11Kit skips (or fails) the test when p11-kit's server and
// client module are not installed.
func requireP11Kit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("p11-kit"); err != nil {
		skipOrFail(t, "p11-kit not found (apt-get install p11-kit p11-kit-modules)")
	}
	if found, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-client.so"); len(found) == 0 {
		skipOrFail(t, "p11-kit-client.so not found (apt-get install p11-kit-modules)")
	}
}

// devHSM runs `kmipctl --config DIR/config.yaml dev hsm ARGS...`.
func devHSM(t testing.TB, dir string, args ...string) string {
	t.Helper()
	argv := append([]string{"--config", filepath.Join(dir, "config.yaml"), "dev", "hsm"}, args...)
	cmd := exec.Command(bin(t, "kmipctl"), argv...)
	cmd.Env = environ()
	out, err := runWithTimeout(cmd, cmdTimeout)
	require.NoError(t, err, "kmipctl %s\n%s", strings.Join(argv, " "), out)
	return string(out)
}

// pkcs11Section reads the backend.pkcs11 section that dev init wrote.
func pkcs11Section(t testing.TB, dir string) config.PKCS11 {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	var file struct {
		Backend struct {
			PKCS11 struct {
				Members []string `yaml:"members"`
				PIN     struct {
					File string `yaml:"file"`
				} `yaml:"pin"`
			} `yaml:"pkcs11"`
		} `yaml:"backend"`
	}
	require.NoError(t, yaml.Unmarshal(body, &file))
	p := config.Default().Backend.PKCS11
	p.TokenLabel = "kmip-adapter-dev"
	p.Members = file.Backend.PKCS11.Members
	p.PIN = config.Secret{File: file.Backend.PKCS11.PIN.File}
	return p
}

// p11KitSet is the backend on a set of two members, each served by its own
// p11-kit server (kmipctl dev init --hsm-members 2), with fast retries and
// health checks.
type p11KitSet struct {
	dir   string
	b     *pkcs11.Backend
	logMu sync.Mutex
	log   bytes.Buffer
}

// openP11KitSet makes the set in a fresh directory and opens the backend
// on it with edit applied to its configuration; the backend is closed
// and the servers stopped when the test ends.
func openP11KitSet(t *testing.T, edit func(*config.PKCS11)) *p11KitSet {
	t.Helper()
	requireSoftHSM(t)
	requireP11Kit(t)
	set := &p11KitSet{dir: filepath.Join(t.TempDir(), "ha")}
	dir := set.dir
	cmd := exec.Command(bin(t, "kmipctl"), "dev", "init", "--dir", dir, "--listen", "127.0.0.1:0", "--hsm-members", "2")
	cmd.Env = environ()
	out, err := runWithTimeout(cmd, cmdTimeout)
	t.Cleanup(func() {
		c := exec.Command(bin(t, "kmipctl"), "--config", filepath.Join(dir, "config.yaml"), "dev", "hsm", "stop", "all")
		c.Env = environ()
		_, _ = runWithTimeout(c, cmdTimeout)
	})
	require.NoError(t, err, "kmipctl dev init --hsm-members 2\n%s", out)
	assert.Contains(t, string(out), "member 1: token kmip-adapter-dev served by p11-kit server")
	assert.Contains(t, string(out), "member 2: token kmip-adapter-dev served by p11-kit server")
	status := devHSM(t, dir, "status")
	assert.Equal(t, 2, strings.Count(status, "running (pid"), status)

	cfg := pkcs11Section(t, dir)
	require.Len(t, cfg.Members, 2)
	cfg.MemberRetry = 50 * time.Millisecond
	cfg.MemberRetryMax = 500 * time.Millisecond
	cfg.HealthInterval = 200 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	ctx := zerolog.New(lockedWriter{&set.logMu, &set.log}).WithContext(context.Background())
	set.b, err = pkcs11.Open(ctx, cfg)
	require.NoError(t, err)
	// Close waits for the calls in flight: one stuck in the module would
	// hang the whole test binary until go test's timeout, with no word of
	// where. Bounded, it fails this test with every goroutine's stack.
	t.Cleanup(func() { finishWithin(t, 30*time.Second, "closing the backend", func() { _ = set.b.Close() }) })
	return set
}

// logged is what the backend logged so far.
func (s *p11KitSet) logged() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// randomLoad is 8 goroutines drawing random bytes from a backend until
// stopped, counting the calls and keeping every error.
type randomLoad struct {
	calls atomic.Int64
	mu    sync.Mutex
	errs  []error
	stop  func()
	wg    sync.WaitGroup
}

// startRandomLoad starts the load; each call may take up to callTimeout.
func startRandomLoad(b *pkcs11.Backend, callTimeout time.Duration) *randomLoad {
	l := &randomLoad{}
	stop := make(chan struct{})
	l.stop = sync.OnceFunc(func() { close(stop) })
	for range 8 {
		l.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				_, err := b.Random(ctx, 32)
				cancel()
				if err != nil {
					l.mu.Lock()
					l.errs = append(l.errs, err)
					l.mu.Unlock()
				}
				l.calls.Add(1)
			}
		})
	}
	return l
}

// end stops the load, waits for it (failing t after 30 s) and returns the
// errors it saw.
func (l *randomLoad) end(t *testing.T) []error {
	t.Helper()
	l.stop()
	finishWithin(t, 30*time.Second, "stopping the load", l.wg.Wait)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}

// TestHSMSetP11KitFailover is the HA set as `kmipctl dev init
// --hsm-members 2` makes it: two copies of the development token, each
// served by its own `p11-kit server` process and reached through its own
// copy of p11-kit-client.so, as the adapter reaches network HSMs. Killing a
// member's server (`kmipctl dev hsm stop 1`) makes the client module
// answer CKR_DEVICE_ERROR; starting it again needs C_Finalize and
// C_Initialize to reconnect.
//
// It drives the backend in process rather than through kmip-adapter,
// because Debian's p11-kit 0.24.1 forwards neither AES key wrap nor
// AES-GCM nor AES-CMAC (its RPC knows a fixed list of mechanisms), so the
// envelope cannot run through it and the server refuses to start on this
// set (its start-up self-test says why). What does cross p11-kit
// (sessions, login, C_GenerateRandom, HMAC, RSA) carries the load here;
// the envelope's failover is proven by the backend's unit tests with the
// same faults injected through the PKCS#11 seam.
func TestHSMSetP11KitFailover(t *testing.T) {
	set := openP11KitSet(t, nil)
	dir, b := set.dir, set.b
	ctx := context.Background()

	// What the start-up self-test says about this transport.
	for _, r := range b.Check(ctx) {
		if !r.OK {
			t.Logf("check through p11-kit: %s: %s", r.Name, r.Detail)
		}
	}

	// Load: 8 goroutines drawing random bytes from the set; however the
	// test ends, it stops before the backend closes.
	load := startRandomLoad(b, 10*time.Second)
	defer load.stop()
	rate := func(d time.Duration) float64 {
		before := load.calls.Load()
		time.Sleep(d)
		return float64(load.calls.Load()-before) / d.Seconds()
	}
	up := func() []bool {
		var out []bool
		for _, m := range b.Members() {
			out = append(out, m.Up)
		}
		return out
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		require.Eventually(t, cond, 30*time.Second, time.Millisecond, "%s (members %v)", what, up())
		return time.Since(start)
	}

	both := rate(time.Second)

	// A member's server killed under load: no request fails.
	stopping := time.Now()
	devHSM(t, dir, "stop", "1")
	stopTook := time.Since(stopping)
	waitFor("member 1 taken out", func() bool { return !b.Members()[0].Up })
	failover := b.Members()[0].Since.Sub(stopping)
	one := rate(time.Second)
	assert.Equal(t, []bool{false, true}, up())
	assert.Contains(t, b.Members()[0].Cause, "CKR_DEVICE_ERROR")

	// Back: it rejoins by itself (module finalized and initialized again).
	devHSM(t, dir, "start", "1")
	rejoin := waitFor("member 1 back", func() bool { return b.Members()[0].Up })
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, load.end(t), "requests failed while one member worked")
	t.Logf("p11-kit set under load: %.0f random draws/s on 2 members, %.0f on 1; member 1 taken out %s after `dev hsm stop 1` began (the command took %s), back %s after its server started",
		both, one, failover.Round(time.Millisecond), stopTook.Round(time.Millisecond), rejoin.Round(time.Millisecond))

	// Both gone: fast, clear errors; the set comes back by itself.
	devHSM(t, dir, "stop", "all")
	finishWithin(t, 30*time.Second, "the first error with both members stopped", func() {
		for {
			if _, err := b.Random(context.Background(), 8); err != nil {
				return
			}
		}
	})
	waitFor("both taken out", func() bool { u := up(); return !u[0] && !u[1] })
	took := make([]time.Duration, 0, 100)
	for range 100 {
		start := time.Now()
		_, err := b.Random(context.Background(), 8)
		took = append(took, time.Since(start))
		require.ErrorIs(t, err, backend.ErrUnavailable)
		assert.Contains(t, err.Error(), "no HSM member is available")
		assert.Contains(t, err.Error(), `member 1 (token "kmip-adapter-dev")`)
		assert.Contains(t, err.Error(), `member 2 (token "kmip-adapter-dev")`)
	}
	// Fails fast: no call waits for a member to be tried again (that is
	// done in the background). The median, not the slowest: one call on
	// a loaded CI machine may be descheduled for longer than a failure
	// takes.
	slices.Sort(took)
	assert.Less(t, took[len(took)/2], 10*time.Millisecond, "fails fast (median of 100 calls)")
	assert.Less(t, took[len(took)-1], time.Second, "fails fast (slowest of 100 calls)")
	devHSM(t, dir, "start", "all")
	resumed := waitFor("service resumed", func() bool {
		_, err := b.Random(context.Background(), 8)
		return err == nil
	})
	waitFor("both back", func() bool { u := up(); return u[0] && u[1] })
	t.Logf("both members gone: errors within %s (median %s); service resumed %s after the servers started", took[len(took)-1].Round(time.Microsecond), took[len(took)/2].Round(time.Microsecond), resumed.Round(time.Millisecond))

	log := set.logged()
	assert.Contains(t, log, "hsm member down")
	assert.Contains(t, log, `"reinitialized":true`)
	pin, err := os.ReadFile(filepath.Join(dir, "softhsm", "user.pin"))
	require.NoError(t, err)
	assert.NotContains(t, log, strings.TrimSpace(string(pin)), "the PIN reached the log")
}

// TestHSMSetP11KitFrozenServer: a member's p11-kit server frozen
// (SIGSTOP: the process and its connections stay, nothing answers), as a
// network HSM behind a silent network path. Calls on that member wait;
// the calls queued behind them give up after call_timeout and fail over;
// the member is taken out as hung, so requests go to the other member at
// once; thawed, it comes back by itself and no request failed.
func TestHSMSetP11KitFrozenServer(t *testing.T) {
	const callTimeout = time.Second
	set := openP11KitSet(t, func(c *config.PKCS11) { c.CallTimeout = callTimeout })
	b := set.b
	pid := p11KitServerPID(t, set.dir, 1)

	load := startRandomLoad(b, 30*time.Second)
	defer load.stop()
	thaw := sync.OnceFunc(func() { _ = syscall.Kill(-pid, syscall.SIGCONT) })
	t.Cleanup(thaw) // before the backend closes: Close waits for the calls in flight
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		require.Eventually(t, cond, 30*time.Second, time.Millisecond, "%s (members %+v)", what, b.Members())
	}
	waitFor("load running", func() bool { return load.calls.Load() > 100 })

	frozen := time.Now()
	require.NoError(t, syscall.Kill(-pid, syscall.SIGSTOP))
	waitFor("member 1 taken out", func() bool { return !b.Members()[0].Up })
	out := b.Members()[0]
	assert.Contains(t, out.Cause, "hung")
	// Taken out by the time-out, not at once as a failure would be: the
	// call that gave up may have queued a moment before the freeze.
	assert.GreaterOrEqual(t, out.Since.Sub(frozen), callTimeout*3/4, "not long before call_timeout")
	// Requests made now are served by member 2 without waiting.
	for range 50 {
		start := time.Now()
		_, err := b.Random(context.Background(), 8)
		require.NoError(t, err)
		assert.Less(t, time.Since(start), callTimeout/2, "served without waiting for the frozen member")
	}
	before := load.calls.Load()
	time.Sleep(500 * time.Millisecond)
	assert.Greater(t, load.calls.Load(), before, "the load goes on on member 2")

	thaw()
	waitFor("member 1 back", func() bool { return b.Members()[0].Up })
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, load.end(t), "requests failed while member 2 worked")
	assert.Contains(t, set.logged(), "hsm member back in the set")
	t.Logf("frozen p11-kit server: member 1 taken out %s after SIGSTOP (call_timeout %s)", out.Since.Sub(frozen).Round(time.Millisecond), callTimeout)
}

// p11KitServerPID is the process id of member n's p11-kit server (the
// leader of its process group), from kmipctl dev hsm status.
func p11KitServerPID(t *testing.T, dir string, n int) int {
	t.Helper()
	status := devHSM(t, dir, "status")
	m := regexp.MustCompile(`(?m)^` + strconv.Itoa(n) + `\s.*running \(pid (\d+)\)`).FindStringSubmatch(status)
	require.NotNil(t, m, "member %d's server in:\n%s", n, status)
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return pid
}

// finishWithin runs fn and fails the test if it has not returned after d,
// logging every goroutine's stack: what hangs (a call stuck in a PKCS#11
// module, a lock) is then named in the test's output instead of the
// whole binary stopping silently at go test's timeout. fn keeps running.
func finishWithin(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s did not finish within %s; goroutines:\n%s", what, d, buf)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// cloneMember copies the development token of dir into dir/members/NAME
// with its own SoftHSM2 configuration and its own copy of the SoftHSM2
// module, and returns the member's URI: an HA set member that the real
// server loads in process.
func cloneMember(t testing.TB, dir, name string) string {
	t.Helper()
	mdir := filepath.Join(dir, "members", name)
	require.NoError(t, os.CopyFS(filepath.Join(mdir, "tokens"), os.DirFS(filepath.Join(dir, "softhsm", "tokens"))))
	conf := filepath.Join(mdir, "softhsm2.conf")
	require.NoError(t, os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(mdir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600))
	lib, err := os.ReadFile(softHSMModule)
	require.NoError(t, err)
	module := filepath.Join(mdir, "libsofthsm2.so")
	require.NoError(t, os.WriteFile(module, lib, 0o755))
	return "pkcs11:token=kmip-adapter-dev?module-path=" + module + "&x-softhsm2-conf=" + conf
}

// TestHSMSetServesKMIP runs kmip-adapter on an HA set of two partitions
// (clones of the development token, loaded in process), configured through
// the environment as an operator may: keys created on the set, whichever
// member served each request, are read back from either member alone, and
// the server starts and serves with a member missing.
func TestHSMSetServesKMIP(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "set")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	m1, m2 := cloneMember(t, dir, "1"), cloneMember(t, dir, "2")
	const membersEnv = "KMIP_ADAPTER_BACKEND_PKCS11_MEMBERS="

	start := func(members ...string) *server {
		t.Helper()
		s, err := startServer(bin(t, "kmip-adapter"), dir, []string{membersEnv + strings.Join(members, ",")})
		require.NoError(t, err)
		return s
	}
	stop := func(s *server) {
		t.Helper()
		_, err := s.stopCleanly()
		require.NoError(t, err)
	}

	s := start(m1, m2)
	c := ovhDial(t, s, kmip.V1_4)
	keys := map[string][]byte{}
	for range 20 {
		id := ovhCreateAES(t, c, 256)
		_, material := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		keys[id] = material
	}
	check := exec.Command(bin(t, "kmipctl"), "hsm", "check", "--config", filepath.Join(dir, "config.yaml"))
	check.Env = append(environ(), membersEnv+m1+","+m2)
	out, err := runWithTimeout(check, cmdTimeout)
	require.NoError(t, err, "kmipctl hsm check\n%s", out)
	assert.Regexp(t, `HSM set\s+ok\s+2 of 2 members work`, string(out))
	assert.Contains(t, string(out), "member2/self-test KWP")
	stop(s)

	for _, only := range []string{m1, m2} {
		s := start(only)
		c := ovhDial(t, s, kmip.V1_4)
		for id, want := range keys {
			_, got := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
			assert.Equal(t, want, got, "key %s from one member alone", id)
		}
		stop(s)
	}

	// A member whose module is missing: the server starts on the other,
	// says so, and serves.
	broken := "pkcs11:token=kmip-adapter-dev?module-path=" + filepath.Join(dir, "no-such-module.so")
	s = start(broken, m2)
	c = ovhDial(t, s, kmip.V1_4)
	id := ovhCreateAES(t, c, 128)
	_, material := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	assert.Len(t, material, 16)
	assert.True(t, s.loggedContaining("hsm member down at start"), "the missing member is logged:\n%s", s.log.String())
	stop(s)
}

// loggedContaining reports whether a log line's message contains text.
func (s *server) loggedContaining(text string) bool {
	for _, l := range s.log.entries() {
		if m, ok := l["message"].(string); ok && strings.Contains(m, text) {
			return true
		}
	}
	return false
}
