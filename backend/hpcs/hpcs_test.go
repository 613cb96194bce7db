package hpcs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/backendtest"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// env is a stand-in KMS with one root key and the configuration of a
// backend that uses it.
type env struct {
	kms  *kmsdev.Server
	srv  *httptest.Server
	root string
	cfg  config.HPCS
	now  *clock
}

// clock is a settable clock for the KEK cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	kms, err := kmsdev.New(kmsdev.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(kms)
	t.Cleanup(srv.Close)
	keyFile := filepath.Join(t.TempDir(), "api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(kms.APIKey()+"\n"), 0o600))
	root := kms.CreateRootKey("kmip-adapter-root")
	return &env{
		kms: kms, srv: srv, root: root, now: &clock{t: time.Now()},
		cfg: config.HPCS{
			URL: srv.URL, IAMURL: srv.URL + "/identity/token", InstanceID: kms.InstanceID(), RootKeyID: root,
			APIKey: config.Secret{File: keyFile}, CacheTTL: time.Minute,
			Retries: 3, RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond,
			BreakerThreshold: 3, BreakerCooldown: 200 * time.Millisecond, Timeout: 2 * time.Second,
		},
	}
}

func (e *env) open(t *testing.T) *hpcs.Backend {
	t.Helper()
	b, err := hpcs.Open(context.Background(), e.cfg, hpcs.Options{Now: e.now.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	for _, source := range []string{"kms", "local"} {
		t.Run(source, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.KEKSource = source
			backendtest.Run(t, func(t *testing.T) backend.Backend { return e.open(t) })
		})
	}
}

func seal(t *testing.T, b backend.Backend, tk backend.TenantKey, pt string) []byte {
	t.Helper()
	ct, err := b.Seal(context.Background(), backend.SealRequest{Key: tk, Plaintext: []byte(pt), AdditionalData: []byte("uid=1")})
	require.NoError(t, err)
	return ct
}

func open(b backend.Backend, tk backend.TenantKey, ct []byte) (string, error) {
	pt, err := b.Open(context.Background(), backend.OpenRequest{Key: tk, Ciphertext: ct, AdditionalData: []byte("uid=1")})
	return string(pt), err
}

// TestCacheAndCryptoShredding: the KEK is unwrapped once per cache time;
// a disabled root key makes the tenant unusable once the cache time ran
// out (ErrKeyMissing naming KEY_ACTION_INVALID_STATE_ERR), and enabling
// it restores the tenant.
func TestCacheAndCryptoShredding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)
	tk, err := b.NewTenantKey(ctx, "t1")
	require.NoError(t, err)
	ct := seal(t, b, tk, "secret")

	// A second backend (another node, a restart) has an empty cache.
	b2 := e.open(t)
	for range 5 {
		got, err := open(b2, tk, ct)
		require.NoError(t, err)
		assert.Equal(t, "secret", got)
	}
	assert.Equal(t, 1, e.kms.Count("unwrap"), "one unwrap per cache time")

	require.NoError(t, e.kms.Disable(e.root))
	_, err = open(b2, tk, ct)
	require.NoError(t, err, "within the cache time the cached KEK still serves")
	e.now.Add(61 * time.Second)
	_, err = open(b2, tk, ct)
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.Contains(t, err.Error(), "KEY_ACTION_INVALID_STATE_ERR")
	_, err = b2.Seal(ctx, backend.SealRequest{Key: tk, Plaintext: []byte("x")})
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	_, err = b2.NewTenantKey(ctx, "t2")
	require.ErrorIs(t, err, backend.ErrKeyMissing)

	require.NoError(t, e.kms.Enable(e.root))
	got, err := open(b2, tk, ct)
	require.NoError(t, err)
	assert.Equal(t, "secret", got)

	require.NoError(t, e.kms.Delete(e.root))
	e.now.Add(61 * time.Second)
	_, err = open(b2, tk, ct)
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.Contains(t, err.Error(), "KEY_DELETED_ERR")
}

// TestLazyRewrap: after a root rotation the first unwrap gets the
// rewrapped ciphertext; the backend reports the new blob, which opens
// everything the old one sealed and needs no further rewrap.
func TestLazyRewrap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)
	tk, err := b.NewTenantKey(ctx, "t1")
	require.NoError(t, err)
	ct := seal(t, b, tk, "before rotation")

	require.NoError(t, e.kms.Rotate(e.root))
	versions, err := e.kms.KeyVersions(e.root)
	require.NoError(t, err)
	require.Len(t, versions, 2)

	reports := make(chan [2]backend.TenantKey, 1)
	b2 := e.open(t)
	b2.OnRewrap(func(_ context.Context, old, updated backend.TenantKey) { reports <- [2]backend.TenantKey{old, updated} })
	got, err := open(b2, tk, ct)
	require.NoError(t, err)
	assert.Equal(t, "before rotation", got)
	var rep [2]backend.TenantKey
	select {
	case rep = <-reports:
	case <-time.After(5 * time.Second):
		t.Fatal("no rewrap reported")
	}
	assert.Equal(t, tk, rep[0])
	assert.NotEqual(t, tk.Blob, rep[1].Blob)
	assert.Equal(t, "t1", rep[1].TenantID)

	need, err := b2.NeedsRewrap(rep[1])
	require.NoError(t, err)
	assert.False(t, need, "the rewrapped blob is on the newest version")
	need, err = b2.NeedsRewrap(tk)
	require.NoError(t, err)
	assert.True(t, need)

	// The old blob keeps working in this process without another rewrap
	// (the ops layer may hold it until restart).
	e.now.Add(2 * time.Minute)
	unwraps := e.kms.Count("unwrap")
	_, err = open(b2, tk, ct)
	require.NoError(t, err)
	assert.Equal(t, unwraps+1, e.kms.Count("unwrap"))
	select {
	case <-reports:
		t.Fatal("rewrap reported twice")
	case <-time.After(100 * time.Millisecond):
	}

	// A fresh backend opens with the new blob, without rewrap.
	b3 := e.open(t)
	got, err = open(b3, rep[1], ct)
	require.NoError(t, err)
	assert.Equal(t, "before rotation", got)
}

// TestEagerRewrap: RewrapTenantKey moves a key to the newest version,
// and to another root key when root_key_id changes.
func TestEagerRewrap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)
	tk, err := b.NewTenantKey(ctx, "t1")
	require.NoError(t, err)
	ct := seal(t, b, tk, "payload")

	v, err := b.RefreshRootVersion(ctx)
	require.NoError(t, err)
	need, err := b.NeedsRewrap(tk)
	require.NoError(t, err)
	assert.False(t, need, "current key on version %s", v)

	require.NoError(t, e.kms.Rotate(e.root))
	_, err = b.RefreshRootVersion(ctx)
	require.NoError(t, err)
	need, err = b.NeedsRewrap(tk)
	require.NoError(t, err)
	require.True(t, need)
	re, err := b.RewrapTenantKey(ctx, tk)
	require.NoError(t, err)
	need, err = b.NeedsRewrap(re)
	require.NoError(t, err)
	assert.False(t, need)

	// Move to another root key.
	e.cfg.RootKeyID = e.kms.CreateRootKey("second-root")
	moved := e.open(t)
	need, err = moved.NeedsRewrap(re)
	require.NoError(t, err)
	require.True(t, need)
	re2, err := moved.RewrapTenantKey(ctx, re)
	require.NoError(t, err)
	require.NoError(t, e.kms.Disable(e.root)) // the old root is no longer needed
	fresh := e.open(t)
	got, err := open(fresh, re2, ct)
	require.NoError(t, err)
	assert.Equal(t, "payload", got)
}

// TestRetriesAndBreaker: 429 and 503 are retried; a KMS that stays down
// opens the circuit (fast failures, ErrUnavailable); it closes by itself
// once the KMS is back.
func TestRetriesAndBreaker(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)

	e.kms.SetFaults(kmsdev.Faults{Status: http.StatusTooManyRequests, Count: 2})
	tk, err := b.NewTenantKey(ctx, "t1")
	require.NoError(t, err, "two 429s are within the retry budget")
	ct := seal(t, b, tk, "kept")

	e.kms.SetFaults(kmsdev.Faults{Status: http.StatusServiceUnavailable})
	fresh := e.open(t)
	for i := range 3 {
		_, err = open(fresh, tk, ct)
		require.ErrorIs(t, err, backend.ErrUnavailable, "call %d", i)
		assert.Contains(t, err.Error(), "SERVICE_UNAVAILABLE_ERR")
	}
	before := e.kms.Count("unwrap")
	began := time.Now()
	_, err = open(fresh, tk, ct)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	assert.Contains(t, err.Error(), "circuit open")
	assert.Equal(t, before, e.kms.Count("unwrap"), "an open circuit does not call the KMS")
	assert.Less(t, time.Since(began), 200*time.Millisecond, "fails fast")

	e.kms.SetFaults(kmsdev.Faults{})
	time.Sleep(250 * time.Millisecond) // the cooldown
	got, err := open(fresh, tk, ct)
	require.NoError(t, err)
	assert.Equal(t, "kept", got)
}

// TestTimeout: a KMS slower than the timeout counts as unavailable.
func TestTimeout(t *testing.T) {
	e := newEnv(t)
	e.cfg.Timeout = 100 * time.Millisecond
	e.cfg.Retries = 1
	b := e.open(t)
	_, err := b.NewTenantKey(context.Background(), "warm-token") // fetch the token before the latency
	require.NoError(t, err)
	e.kms.SetFaults(kmsdev.Faults{Latency: 300 * time.Millisecond})
	began := time.Now()
	_, err = b.NewTenantKey(context.Background(), "slow")
	require.ErrorIs(t, err, backend.ErrUnavailable)
	assert.Less(t, time.Since(began), 280*time.Millisecond*2)
}

// TestTokenRefresh: the IAM token is fetched once and refreshed before it
// expires.
func TestTokenRefresh(t *testing.T) {
	kms, err := kmsdev.New(kmsdev.Config{TokenTTL: 2 * time.Second})
	require.NoError(t, err)
	srv := httptest.NewServer(kms)
	t.Cleanup(srv.Close)
	t.Setenv("TEST_KMS_API_KEY", kms.APIKey())
	root := kms.CreateRootKey("root")
	b, err := hpcs.Open(context.Background(), config.HPCS{
		URL: srv.URL, IAMURL: srv.URL + "/identity/token", InstanceID: kms.InstanceID(), RootKeyID: root,
		APIKey: config.Secret{Env: "TEST_KMS_API_KEY"},
	}, hpcs.Options{})
	require.NoError(t, err)
	defer b.Close()
	for range 5 {
		_, err := b.NewTenantKey(context.Background(), "t")
		require.NoError(t, err)
	}
	assert.Equal(t, 1, kms.Count("token"))
	time.Sleep(1700 * time.Millisecond) // past 80% of the token's life
	_, err = b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err)
	assert.Equal(t, 2, kms.Count("token"), "refreshed before expiry")
}

// TestBadCredentials: a wrong (or revoked) API key or instance is
// ErrKeyMissing with IAM's or the KMS's reason code, and never the API
// key.
func TestBadCredentials(t *testing.T) {
	e := newEnv(t)
	t.Setenv("WRONG_KEY", "wrong-api-key-value")
	wrongKey := e.cfg
	wrongKey.APIKey = config.Secret{Env: "WRONG_KEY"}
	b, err := hpcs.Open(context.Background(), wrongKey, hpcs.Options{})
	require.NoError(t, err)
	_, err = b.NewTenantKey(context.Background(), "t")
	require.ErrorIs(t, err, backend.ErrKeyMissing, "credentials refused: retrying does not help")
	assert.Contains(t, err.Error(), "BXNIM0415E")
	assert.NotContains(t, err.Error(), "wrong-api-key-value")

	wrongInstance := e.cfg
	wrongInstance.InstanceID = "00000000-0000-0000-0000-000000000000"
	b, err = hpcs.Open(context.Background(), wrongInstance, hpcs.Options{})
	require.NoError(t, err)
	_, err = b.NewTenantKey(context.Background(), "t")
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.Contains(t, err.Error(), "UNAUTHORIZED_ERR")

	t.Setenv("EMPTY_KEY", "")
	noKey := e.cfg
	noKey.APIKey = config.Secret{Env: "EMPTY_KEY"}
	_, err = hpcs.Open(context.Background(), noKey, hpcs.Options{})
	require.ErrorContains(t, err, "backend.hpcs.api_key")
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	b := e.open(t)
	res := b.Check(context.Background())
	require.Len(t, res, 2)
	assert.True(t, res[0].OK, res[0].Detail)
	assert.True(t, res[1].OK, res[1].Detail)

	require.NoError(t, e.kms.Disable(e.root))
	res = b.Check(context.Background())
	assert.False(t, res[0].OK)
	assert.Contains(t, res[0].Detail, "disabled")
	assert.False(t, res[1].OK)

	missing := e.cfg
	missing.RootKeyID = "no-such-key"
	res = e.openWith(t, missing).Check(context.Background())
	assert.False(t, res[0].OK)
	assert.Contains(t, res[0].Detail, "KEY_NOT_FOUND_ERR")
}

func (e *env) openWith(t *testing.T, cfg config.HPCS) *hpcs.Backend {
	t.Helper()
	b, err := hpcs.Open(context.Background(), cfg, hpcs.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestRegistered: the backend registers as "hpcs".
func TestRegistered(t *testing.T) {
	assert.Contains(t, backend.Types(), "hpcs")
	e := newEnv(t)
	b, err := backend.New(context.Background(), config.Backend{Type: "hpcs", HPCS: e.cfg})
	require.NoError(t, err)
	require.NoError(t, b.Close())
}

// TestOtherBackendsKey: a tenant key another backend made is refused
// clearly, not as tampering.
func TestOtherBackendsKey(t *testing.T) {
	e := newEnv(t)
	b := e.open(t)
	_, err := b.Seal(context.Background(), backend.SealRequest{Key: backend.TenantKey{TenantID: "t", Blob: []byte{2, 4}, Type: "pkcs11"}})
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.Contains(t, err.Error(), "backend.types")
}

// TestCancelledCallerDoesNotOpenTheBreaker: callers giving up on a slow
// KMS do not count as KMS failures.
func TestCancelledCallerDoesNotOpenTheBreaker(t *testing.T) {
	e := newEnv(t)
	b := e.open(t)
	tk, err := b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err)
	e.kms.SetFaults(kmsdev.Faults{Latency: 200 * time.Millisecond})
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := b.NewTenantKey(ctx, "t")
		cancel()
		require.ErrorIs(t, err, backend.ErrUnavailable)
	}
	e.kms.SetFaults(kmsdev.Faults{})
	_, err = b.Seal(context.Background(), backend.SealRequest{Key: tk, Plaintext: []byte("x")})
	require.NoError(t, err)
	_, err = b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err, "the circuit stayed closed")
}

// TestTokenRevokedEarly: a 401 for a token the client thought valid makes
// one new token and the call succeeds.
func TestTokenRevokedEarly(t *testing.T) {
	e := newEnv(t)
	b := e.open(t)
	_, err := b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err)
	require.Equal(t, 1, e.kms.Count("token"))
	e.kms.ForgetTokens()
	_, err = b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err)
	assert.Equal(t, 2, e.kms.Count("token"))
}

// BenchmarkSealOpen: sealing and opening under a cached tenant KEK (the
// KMIP Create and Get path once the KEK is in memory).
func BenchmarkSealOpen(b *testing.B) {
	e := newEnvB(b)
	be, err := hpcs.Open(context.Background(), e.cfg, hpcs.Options{})
	require.NoError(b, err)
	defer be.Close()
	tk, err := be.NewTenantKey(context.Background(), "bench")
	require.NoError(b, err)
	pt, aad := make([]byte, 32), []byte("uid=bench")
	b.ResetTimer()
	for b.Loop() {
		ct, err := be.Seal(context.Background(), backend.SealRequest{Key: tk, Plaintext: pt, AdditionalData: aad})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := be.Open(context.Background(), backend.OpenRequest{Key: tk, Ciphertext: ct, AdditionalData: aad}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnwrap: a KEK cache miss: one unwrap by the stand-in over
// loopback HTTP (IAM token cached).
func BenchmarkUnwrap(b *testing.B) {
	e := newEnvB(b)
	e.cfg.CacheTTL = time.Second
	clk := &clock{t: time.Now()}
	be, err := hpcs.Open(context.Background(), e.cfg, hpcs.Options{Now: clk.Now})
	require.NoError(b, err)
	defer be.Close()
	tk, err := be.NewTenantKey(context.Background(), "bench")
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		clk.Add(2 * time.Second) // every call misses the cache
		if _, err := be.Seal(context.Background(), backend.SealRequest{Key: tk, Plaintext: []byte("k")}); err != nil {
			b.Fatal(err)
		}
	}
}

func newEnvB(b *testing.B) *env {
	kms, err := kmsdev.New(kmsdev.Config{})
	require.NoError(b, err)
	srv := httptest.NewServer(kms)
	b.Cleanup(srv.Close)
	b.Setenv("BENCH_KMS_API_KEY", kms.APIKey())
	root := kms.CreateRootKey("root")
	return &env{kms: kms, srv: srv, root: root, cfg: config.HPCS{
		URL: srv.URL, IAMURL: srv.URL + "/identity/token", InstanceID: kms.InstanceID(), RootKeyID: root,
		APIKey: config.Secret{Env: "BENCH_KMS_API_KEY"},
	}}
}

// TestOneUnwrapForConcurrentCallers: callers arriving together at a cold
// cache share one unwrap.
func TestOneUnwrapForConcurrentCallers(t *testing.T) {
	e := newEnv(t)
	b := e.open(t)
	tk, err := b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err)
	ct := seal(t, b, tk, "shared")
	e.kms.SetFaults(kmsdev.Faults{Latency: 100 * time.Millisecond}) // keep the unwrap in flight
	cold := e.open(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			got, err := open(cold, tk, ct)
			assert.NoError(t, err)
			assert.Equal(t, "shared", got)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, e.kms.Count("unwrap"))
}

// TestCallerGivingUpDoesNotFailOthers: the shared unwrap outlives the
// caller that started it.
func TestCallerGivingUpDoesNotFailOthers(t *testing.T) {
	e := newEnv(t)
	b := e.open(t)
	tk, err := b.NewTenantKey(context.Background(), "t")
	require.NoError(t, err)
	ct := seal(t, b, tk, "kept")
	e.kms.SetFaults(kmsdev.Faults{Latency: 150 * time.Millisecond})
	cold := e.open(t)
	impatient, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = cold.Open(impatient, backend.OpenRequest{Key: tk, Ciphertext: ct, AdditionalData: []byte("uid=1")})
	require.ErrorIs(t, err, backend.ErrUnavailable)
	got, err := open(cold, tk, ct)
	require.NoError(t, err)
	assert.Equal(t, "kept", got)
	assert.Equal(t, 1, e.kms.Count("unwrap"), "the patient caller got the unwrap the impatient one started")
}
