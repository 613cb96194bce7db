package pkcs11

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// haModules are the module paths of haCfg's members, in order.
func haModules(t *testing.T) []string {
	t.Helper()
	set, err := haCfg.MemberSet()
	require.NoError(t, err)
	var out []string
	for _, m := range set {
		out = append(out, m.Module)
	}
	return out
}

// openHA opens the two-member set behind fault injectors, logging to log
// (nil: nowhere).
func openHA(t *testing.T, log *logBuf) (*Backend, *faults, []*faultyModule) {
	t.Helper()
	return openHAWith(t, haCfg, log)
}

// openHAWith is openHA with cfg, a copy of haCfg with settings changed.
func openHAWith(t *testing.T, cfg config.PKCS11, log *logBuf) (*Backend, *faults, []*faultyModule) {
	t.Helper()
	requireSoftHSM2(t)
	fs := injectFaults(t)
	ctx := context.Background()
	if log != nil {
		ctx = zerolog.New(log).WithContext(ctx)
	} else {
		ctx = quiet()
	}
	b, err := Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	var mods []*faultyModule
	for _, p := range haModules(t) {
		mods = append(mods, fs.of(t, p))
	}
	return b, fs, mods
}

// quiet is a context whose logger discards (a disabled logger cannot be
// put in a context: Open would log on standard error).
func quiet() context.Context { return zerolog.New(io.Discard).WithContext(context.Background()) }

// logBuf is a log that the prober's goroutine writes while the test
// reads it.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// up reports which members are up, in order.
func up(b *Backend) []bool {
	var out []bool
	for _, s := range b.Members() {
		out = append(out, s.Up)
	}
	return out
}

func waitUp(t *testing.T, b *Backend, want ...bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		got := up(b)
		for i := range want {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "members up: want %v, have %v", want, up(b))
}

// load runs Seal and Open of fresh material from workers goroutines until
// stop is closed, counting rounds and collecting every error.
type load struct {
	rounds atomic.Int64
	mu     sync.Mutex
	errs   []error
	wg     sync.WaitGroup
	stop   chan struct{}
}

func startLoad(b *Backend, key backend.TenantKey, workers int) *load {
	l := &load{stop: make(chan struct{})}
	ctx := context.Background()
	for w := range workers {
		l.wg.Go(func() {
			for r := 0; ; r++ {
				select {
				case <-l.stop:
					return
				default:
				}
				pt := fmt.Appendf(nil, "material %d/%d", w, r)
				aad := fmt.Appendf(nil, "uid=%d-%d", w, r)
				ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: pt, AdditionalData: aad})
				if err == nil {
					var got []byte
					got, err = b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: aad})
					if err == nil && !bytes.Equal(got, pt) {
						err = errors.New("round trip changed the material")
					}
				}
				if err != nil {
					err = fmt.Errorf("%w (members then: %+v)", err, b.Members())
					l.mu.Lock()
					l.errs = append(l.errs, err)
					l.mu.Unlock()
				}
				l.rounds.Add(1)
			}
		})
	}
	return l
}

// until waits for n more rounds.
func (l *load) until(t *testing.T, n int64) {
	t.Helper()
	target := l.rounds.Load() + n
	require.Eventually(t, func() bool { return l.rounds.Load() >= target }, 30*time.Second, time.Millisecond)
}

func (l *load) end() []error {
	close(l.stop)
	l.wg.Wait()
	return l.errs
}

func TestSetSpreadsRequests(t *testing.T) {
	b, _, mods := openHA(t, nil)
	ctx := context.Background()
	before := []int64{mods[0].calls.Load(), mods[1].calls.Load()}
	for range 200 {
		_, err := b.Random(ctx, 16)
		require.NoError(t, err)
	}
	st := b.Members()
	require.Len(t, st, 2)
	for i, s := range st {
		assert.True(t, s.Up)
		assert.Equal(t, i+1, s.Member)
		assert.Equal(t, testToken, s.Token)
		// Round robin: each member serves about half.
		assert.InDelta(t, 100, s.Requests, 10, "member %d", s.Member)
		assert.Greater(t, mods[i].calls.Load(), before[i])
	}
}

// TestSetFailover kills one member after the other under load from 8
// goroutines: no request fails, and each member comes back by itself
// (its module initialized again) once its server returns.
func TestSetFailover(t *testing.T) {
	var log logBuf
	b, _, mods := openHA(t, &log)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-failover")
	require.NoError(t, err)

	l := startLoad(b, key, 8)
	l.until(t, 200)
	for i, victim := range mods {
		other := 1 - i
		initsBefore := victim.inits.Load()
		victim.kill()
		l.until(t, 200) // served by the other member meanwhile
		want := []bool{true, true}
		want[i] = false
		assert.Equal(t, want, up(b))
		st := b.Members()[i]
		assert.Contains(t, st.Cause, "CKR_DEVICE_ERROR")
		assert.Regexp(t, "CKR_DEVICE_ERROR|no token labelled", st.Reason)
		require.Eventually(t, func() bool { return b.Members()[i].Failures > 1 }, 10*time.Second, time.Millisecond,
			"the prober keeps trying")
		servedBy := mods[other].calls.Load()
		l.until(t, 100)
		assert.Greater(t, mods[other].calls.Load(), servedBy)

		victim.restart()
		waitUp(t, b, true, true)
		assert.Greater(t, victim.inits.Load(), initsBefore, "the module was initialized again")
		l.until(t, 200)
	}
	errs := l.end()
	assert.Empty(t, errs, "clients saw errors")
	assert.Positive(t, b.Failovers())
	assert.Contains(t, log.String(), "hsm member down")
	assert.Contains(t, log.String(), "hsm member back in the set")
}

// TestSetNoMemberFailsFast: with every member gone a request fails at
// once with ErrUnavailable naming each member and why it is out, and the
// set comes back without being reopened; keys made before still open.
func TestSetNoMemberFailsFast(t *testing.T) {
	b, _, mods := openHA(t, nil)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-outage")
	require.NoError(t, err)
	aad := []byte("uid=outage")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("kept"), AdditionalData: aad})
	require.NoError(t, err)

	mods[0].kill()
	mods[1].kill()
	// The first request finds both members gone.
	_, err = b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("x")})
	require.ErrorIs(t, err, backend.ErrUnavailable)
	waitUp(t, b, false, false)

	var slowest time.Duration
	for range 50 {
		start := time.Now()
		_, err = b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: aad})
		slowest = max(slowest, time.Since(start))
		require.ErrorIs(t, err, backend.ErrUnavailable)
	}
	// Fast means no wait for a probe, a retry or a timeout (the probe
	// interval is 250 ms, call timeouts seconds); the bound leaves room
	// for a loaded machine's scheduling (7 ms was seen at load 14).
	assert.Less(t, slowest, 100*time.Millisecond, "fails fast")
	msg := err.Error()
	assert.Contains(t, msg, "no HSM member is available")
	assert.Contains(t, msg, `member 1 (token "kmip-test") is down since`)
	assert.Contains(t, msg, `member 2 (token "kmip-test") is down since`)
	assert.Contains(t, msg, "CKR_DEVICE_ERROR")
	assert.Contains(t, msg, "next try in")
	_, err = b.NewTenantKey(ctx, "t")
	assert.ErrorIs(t, err, backend.ErrUnavailable)
	_, err = b.Random(ctx, 8)
	assert.ErrorIs(t, err, backend.ErrUnavailable)
	check := b.Check(ctx)
	require.NotEmpty(t, check)
	assert.Equal(t, "HSM set", check[0].Name)
	assert.False(t, check[0].OK)
	assert.Contains(t, check[0].Detail, "0 of 2 members work")

	mods[0].restart()
	mods[1].restart()
	waitUp(t, b, true, true)
	pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: aad})
	require.NoError(t, err)
	assert.Equal(t, []byte("kept"), pt)
}

// TestSetHungMember: a member whose calls stop returning (its server
// froze without closing the connection) is taken out once call_timeout
// has passed with none returning; new requests go to the other member at
// once; the prober goes on watching and repairing the other member while
// the hung one holds its calls; when the server answers again the calls
// that waited complete and the member comes back.
func TestSetHungMember(t *testing.T) {
	cfg := haCfg
	cfg.CallTimeout = 400 * time.Millisecond
	var log logBuf
	b, _, mods := openHAWith(t, cfg, &log)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-hung")
	require.NoError(t, err)
	aad := []byte("uid=hung")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("kept"), AdditionalData: aad})
	require.NoError(t, err)
	open := func() error {
		pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: aad})
		if err == nil && string(pt) != "kept" {
			err = errors.New("wrong material")
		}
		return err
	}

	mods[0].stall()
	t.Cleanup(mods[0].unstall) // before Close, which waits for the calls in flight
	stalledAt := time.Now()
	// Half of these go to member 1 and wait there.
	waiting := make(chan error, 8)
	for range 8 {
		go func() { waiting <- open() }()
	}
	waitUp(t, b, false, true)
	// The watch counts from the last return, a moment before the stall.
	assert.GreaterOrEqual(t, time.Since(stalledAt), cfg.CallTimeout*3/4, "not taken out long before call_timeout")
	assert.Contains(t, b.Members()[0].Cause, "none returned for")
	assert.Contains(t, b.Members()[0].Cause, "hung")
	assert.Contains(t, log.String(), "hsm member down")
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(b))
	s := scrape(t, reg)
	assert.Positive(t, s["kmip_adapter_hsm_calls_in_flight"]["1"], "the calls waiting on member 1")
	assert.GreaterOrEqual(t, s["kmip_adapter_hsm_calls_stalled_seconds"]["1"], cfg.CallTimeout.Seconds())

	for range 20 {
		start := time.Now()
		require.NoError(t, open())
		assert.Less(t, time.Since(start), time.Second, "served by member 2 without waiting for member 1")
	}

	// Member 1's revive waits for its calls; member 2 is still looked
	// after: lost while idle, found by the health check, and brought back.
	mods[1].kill()
	waitUp(t, b, false, false)
	mods[1].restart()
	waitUp(t, b, false, true)
	require.NoError(t, open())

	mods[0].unstall()
	for range 8 {
		assert.NoError(t, <-waiting, "a call that waited for the frozen server completes when it answers")
	}
	waitUp(t, b, true, true)
	assert.Contains(t, log.String(), "hsm member back in the set")
	for range 10 {
		require.NoError(t, open())
	}
	s = scrape(t, reg)
	assert.Equal(t, map[string]float64{"1": 0, "2": 0}, s["kmip_adapter_hsm_calls_in_flight"])
	assert.Equal(t, map[string]float64{"1": 0, "2": 0}, s["kmip_adapter_hsm_calls_stalled_seconds"])
}

// TestCloseWithAHungMember: Close waits for calls in flight at most
// call_timeout, then says which member is hung instead of keeping a
// shutting-down server from exiting; it refuses new calls meanwhile.
func TestCloseWithAHungMember(t *testing.T) {
	cfg := haCfg
	cfg.CallTimeout = 300 * time.Millisecond
	b, _, mods := openHAWith(t, cfg, nil)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-close-hung")
	require.NoError(t, err)

	mods[0].stall()
	t.Cleanup(mods[0].unstall) // before the Close of openHAWith's cleanup
	stuck := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("x")})
			stuck <- err
		}()
	}
	require.Eventually(t, func() bool { return b.members[0].watch.inFlight.Load() > 0 }, 10*time.Second, time.Millisecond)

	start := time.Now()
	err = b.Close()
	took := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "have not returned within call_timeout (300ms)")
	assert.GreaterOrEqual(t, took, cfg.CallTimeout)
	assert.Less(t, took, 5*time.Second)
	_, err = b.Random(ctx, 8)
	assert.ErrorIs(t, err, errClosed, "no new call starts while the backend is closing")

	mods[0].unstall()
	for range 4 {
		<-stuck // the calls that waited return once the module answers
	}
	assert.NoError(t, b.Close(), "closes once nothing is in flight")
}

// TestSetTokenRemoved: a token that disappears (its sessions with it) is
// taken out, and put back once it is there again.
func TestSetTokenRemoved(t *testing.T) {
	b, _, mods := openHA(t, nil)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-token")
	require.NoError(t, err)
	l := startLoad(b, key, 4)
	l.until(t, 100)
	mods[1].removeToken()
	l.until(t, 100)
	waitUp(t, b, true, false)
	assert.Regexp(t, "CKR_TOKEN_NOT_PRESENT|CKR_SESSION_HANDLE_INVALID", b.Members()[1].Cause)
	mods[1].insertToken()
	waitUp(t, b, true, true)
	l.until(t, 100)
	assert.Empty(t, l.end())
}

// TestSetFindsIdleLoss: a member lost while no request runs is found by
// the health check and repaired before a request needs it.
func TestSetFindsIdleLoss(t *testing.T) {
	b, _, mods := openHA(t, nil)
	mods[0].kill()
	waitUp(t, b, false, true)
	mods[0].restart()
	waitUp(t, b, true, true)
}

// TestSetStartsWithAMemberDown: Open succeeds while one member's server is
// gone; Check passes with a line saying so, and the member joins once its
// server is back.
func TestSetStartsWithAMemberDown(t *testing.T) {
	requireSoftHSM2(t)
	fs := injectFaults(t)
	paths := haModules(t)
	fs.onLoad(paths[1], func(f *faultyModule) { f.kill() })
	b, err := Open(quiet(), haCfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	assert.Equal(t, []bool{true, false}, up(b))

	ctx := context.Background()
	check := b.Check(ctx)
	require.NotEmpty(t, check)
	assert.Equal(t, "HSM set", check[0].Name)
	assert.True(t, check[0].OK)
	assert.Contains(t, check[0].Detail, "1 of 2 members work")
	assert.Contains(t, check[0].Detail, "member 2")
	for _, r := range check {
		assert.True(t, r.OK, "%s: %s", r.Name, r.Detail)
		assert.False(t, strings.HasPrefix(r.Name, "member2/"), r.Name)
	}

	fs.of(t, paths[1]).restart()
	waitUp(t, b, true, true)
	check = b.Check(ctx)
	names := map[string]bool{}
	for _, r := range check {
		assert.True(t, r.OK, "%s: %s", r.Name, r.Detail)
		names[r.Name] = true
	}
	for _, n := range []string{"HSM set", "member1/MKEK", "member2/MKEK", "member1/self-test KWP", "member2/self-test RSA-OAEP"} {
		assert.True(t, names[n], "no line %q", n)
	}
}

// TestSetWrongPINIsNotRetried: a member refusing the PIN is taken out for
// good; trying again could lock the partition.
func TestSetWrongPINIsNotRetried(t *testing.T) {
	requireSoftHSM2(t)
	fs := injectFaults(t)
	paths := haModules(t)
	fs.onLoad(paths[1], func(f *faultyModule) { f.setWrongPIN(true) })
	b, err := Open(quiet(), haCfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	logins := fs.of(t, paths[1]).logins.Load()
	time.Sleep(10 * haCfg.MemberRetryMax)
	assert.Equal(t, logins, fs.of(t, paths[1]).logins.Load(), "C_Login tried again")
	st := b.Members()[1]
	assert.False(t, st.Up)
	assert.Contains(t, st.Reason, "CKR_PIN_INCORRECT")
	assert.True(t, st.NextTry.IsZero())
	_, err = b.Random(context.Background(), 8)
	require.NoError(t, err)
}

// TestOpenNoMemberReachable: Open fails, naming every member.
func TestOpenNoMemberReachable(t *testing.T) {
	requireSoftHSM2(t)
	fs := injectFaults(t)
	for _, p := range haModules(t) {
		fs.onLoad(p, func(f *faultyModule) { f.kill() })
	}
	_, err := Open(quiet(), haCfg)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	assert.Contains(t, err.Error(), "no member of the HSM set could be reached")
	assert.Contains(t, err.Error(), "member 1")
	assert.Contains(t, err.Error(), "member 2")
	modulesMu.Lock()
	defer modulesMu.Unlock()
	for _, p := range haModules(t) {
		assert.NotContains(t, modules, p, "module left loaded")
	}
}

// TestSecretsStayOut runs every failure path with a recognizable PIN and
// looks for it in every error, status, check line and log line.
func TestSecretsStayOut(t *testing.T) {
	requireSoftHSM2(t)
	const envName = "KMIP_TEST_SECRET_PIN"
	t.Setenv(envName, testUserPIN)
	cfg := haCfg
	cfg.PIN = config.Secret{Env: envName}

	var log logBuf
	fs := injectFaults(t)
	paths := haModules(t)
	ctx := zerolog.New(&log).Level(zerolog.DebugLevel).WithContext(context.Background())
	b, err := Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	var seen []string
	note := func(err error) {
		if err != nil {
			seen = append(seen, err.Error())
		}
	}
	key, err := b.NewTenantKey(ctx, "tenant-secret")
	require.NoError(t, err)
	fs.of(t, paths[0]).kill()
	fs.of(t, paths[1]).setWrongPIN(true)
	fs.of(t, paths[1]).removeToken()
	for range 5 {
		_, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("x")})
		note(err)
		_, err = b.Random(ctx, 4)
		note(err)
	}
	fs.of(t, paths[1]).insertToken()
	time.Sleep(5 * cfg.MemberRetryMax)
	for _, s := range b.Members() {
		seen = append(seen, s.Cause, s.Reason)
	}
	for _, r := range b.Check(ctx) {
		seen = append(seen, r.Detail)
	}
	// And a single partition refusing the PIN at Open.
	wrong := testCfg
	t.Setenv("KMIP_TEST_WRONG_SECRET", "wrong-"+testUserPIN)
	wrong.PIN = config.Secret{Env: "KMIP_TEST_WRONG_SECRET"}
	_, err = Open(ctx, wrong)
	note(err)

	seen = append(seen, log.String())
	all := strings.Join(seen, "\n")
	assert.Contains(t, all, "CKR_PIN_INCORRECT", "the wrong PIN is reported")
	assert.Contains(t, all, "CKR_DEVICE_ERROR")
	assert.NotContains(t, all, testUserPIN)
}

// TestFaultClassification: what takes a member out, and what does not.
func TestFaultClassification(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		fault bool
		final bool
	}{
		{"device error", unavailable("C_Encrypt", pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)), true, false},
		{"device removed", pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED), true, false},
		{"token not present", pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT), true, false},
		{"session invalid after repair", settled{pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)}, true, false},
		{"not initialized", pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED), true, false},
		{"open session failed", lost{errors.New("C_OpenSession: something")}, true, false},
		{"wrong PIN", lost{fmt.Errorf("C_Login: %w", pkcs11.Error(pkcs11.CKR_PIN_INCORRECT))}, true, true},
		{"locked PIN", lost{fmt.Errorf("C_Login: %w", pkcs11.Error(pkcs11.CKR_PIN_LOCKED))}, true, true},
		{"bad data length", unavailable("C_Encrypt", pkcs11.Error(pkcs11.CKR_DATA_LEN_RANGE)), false, false},
		{"integrity", fmt.Errorf("%w: MAC", backend.ErrIntegrity), false, false},
		{"key missing", keyProblem("no secret key"), false, false},
		{"general error", pkcs11.Error(pkcs11.CKR_GENERAL_ERROR), false, false},
		{"context", context.DeadlineExceeded, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.fault, isMemberFault(tt.err))
			assert.Equal(t, tt.final, isFinal(tt.err))
		})
	}
}

func TestRetryDelay(t *testing.T) {
	b := &Backend{cfg: config.PKCS11{MemberRetry: 100 * time.Millisecond, MemberRetryMax: time.Second}}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, b.retryDelay(n))
	}
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, time.Second, time.Second}, got)
}
