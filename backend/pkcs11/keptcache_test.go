package pkcs11

import (
	"bytes"
	"context"
	"crypto/cipher"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// countingModule counts the unwraps of one wrapped kept key.
type countingModule struct {
	p11
	mu      sync.Mutex
	target  []byte
	unwraps int
}

func (c *countingModule) watch(wrapped []byte) {
	c.mu.Lock()
	c.target = wrapped
	c.mu.Unlock()
}

func (c *countingModule) UnwrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, k pkcs11.ObjectHandle, wrapped []byte, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	c.mu.Lock()
	if c.target != nil && bytes.Equal(wrapped, c.target) {
		c.unwraps++
	}
	c.mu.Unlock()
	return c.p11.UnwrapKey(sh, m, k, wrapped, temp)
}

func (c *countingModule) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unwraps
}

// TestKeptKeyCache: a kept key is unwrapped once for its use and its
// handle serves later uses; it is unwrapped again once it expired, when
// the anchor session (its owner) was lost, when the member was
// reconnected and when its handle was found invalid; the cache holds no
// more than its bound.
func TestKeptKeyCache(t *testing.T) {
	requireSoftHSM2(t)
	rec := &countingModule{}
	orig := loadModule
	loadModule = func(path string) (p11, error) {
		p, err := orig(path)
		if err != nil {
			return nil, err
		}
		rec.p11 = p
		return rec, nil
	}
	t.Cleanup(func() { loadModule = orig })
	// The prober reads the clock too.
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	origNow := now
	now = func() time.Time { return time.Unix(0, clock.Load()) }
	t.Cleanup(func() { now = origNow })

	b := openTest(t, testCfg)
	m := b.members[0]
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-cache")
	require.NoError(t, err)
	blob, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 256})
	require.NoError(t, err)
	var want []byte
	use := func() {
		t.Helper()
		out := make([]byte, 16)
		require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blob}, func(blk cipher.Block) error {
			blk.Encrypt(out, make([]byte, 16))
			return nil
		}))
		if want == nil {
			want = out
		}
		assert.Equal(t, want, out, "the same key each time")
	}
	rec.watch(blob[1:])
	base := rec.count()

	use()
	use()
	use()
	assert.Equal(t, base+1, rec.count(), "unwrapped once, then cached")
	assert.Equal(t, 1, m.keptCached())

	advance(keptCacheTTL)
	use()
	assert.Equal(t, base+2, rec.count(), "unwrapped again once expired")
	assert.Equal(t, 1, m.keptCached(), "the expired entry left")

	m.anchorMu.Lock()
	m.dropAnchor()
	m.anchorMu.Unlock()
	assert.Zero(t, m.keptCached(), "the anchor's objects died with it")
	use()
	assert.Equal(t, base+3, rec.count(), "unwrapped again after the anchor was lost")

	m.use.Lock()
	m.forget(true)
	m.use.Unlock()
	assert.Zero(t, m.keptCached(), "a reconnected member starts empty")
	use()
	assert.Equal(t, base+4, rec.count())

	// The object destroyed behind the cache's back: the use that finds
	// its handle invalid drops it, and withSession's retry unwraps again.
	m.keptMu.Lock()
	var h pkcs11.ObjectHandle
	for _, e := range m.kept {
		h = e.h
	}
	m.keptMu.Unlock()
	require.NoError(t, m.withAnchor(func(a pkcs11.SessionHandle) error { return m.mod.DestroyObject(a, h) }))
	use()
	assert.Equal(t, base+5, rec.count(), "an invalid handle is unwrapped again")

	// The health check sweeps what expired, used or not since.
	require.Equal(t, 1, m.keptCached())
	advance(keptCacheTTL)
	b.checkMember(m)
	assert.Zero(t, m.keptCached(), "swept by the health check")

	// The bound: the entries made first go.
	m.keptCap = 2
	for i := 0; i < 3; i++ {
		other, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 128})
		require.NoError(t, err)
		advance(time.Second)
		require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: other}, func(cipher.Block) error { return nil }))
	}
	assert.Equal(t, 2, m.keptCached())
	assert.NotZero(t, m.keptHits.Load())
}

// TestKeptKeyCacheUnderContention uses two kept keys from many goroutines
// with room for one: entries are evicted while others use them, and every
// use still gets the right key (an evicted entry is destroyed only when
// its last user is done).
func TestKeptKeyCacheUnderContention(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	for _, m := range b.members {
		m.keptCap = 1
	}
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-contention")
	require.NoError(t, err)
	var blobs [2][]byte
	var want [2][]byte
	for i := range blobs {
		blobs[i], err = b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 128})
		require.NoError(t, err)
		want[i] = make([]byte, 16)
		require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blobs[i]}, func(blk cipher.Block) error {
			blk.Encrypt(want[i], make([]byte, 16))
			return nil
		}))
	}
	require.NotEqual(t, want[0], want[1])
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				k := (g + i) % 2
				out := make([]byte, 16)
				err := b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blobs[k]}, func(blk cipher.Block) error {
					for range 4 { // several blocks: the entry is held a while
						blk.Encrypt(out, make([]byte, 16))
					}
					return nil
				})
				if err == nil && !bytes.Equal(out, want[k]) {
					err = assert.AnError
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.LessOrEqual(t, b.members[0].keptCached(), 1)
}
