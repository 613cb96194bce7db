package hpcs

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// Type is the backend type name in configuration.
const Type = "hpcs"

func init() {
	backend.Register(Type, func(ctx context.Context, cfg config.Backend) (backend.Backend, error) {
		return Open(ctx, cfg.HPCS, Options{})
	})
}

// Options are settings that do not come from the configuration file.
type Options struct {
	// Transport is the HTTP transport to the KMS and IAM; nil means a
	// clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock of the KEK cache; nil means time.Now.
	Now func() time.Time
}

// Backend is the KMS API root of trust. It is safe for concurrent use.
type Backend struct {
	cfg    config.HPCS
	client *client
	log    zerolog.Logger
	now    func() time.Time

	mu       sync.Mutex
	closed   bool
	cache    map[cacheKey]*cacheEntry
	moved    map[cacheKey]backend.TenantKey // old blob -> rewrapped key
	latest   map[string]string              // root key id -> newest version seen
	onRewrap func(ctx context.Context, old, updated backend.TenantKey)

	ready readiness // ready.go
}

// cacheKey identifies a tenant key: its tenant and its blob. The tenant
// is part of it so that a blob presented for another tenant never finds
// the first tenant's KEK in the cache.
type cacheKey [sha256.Size]byte

func keyOf(tk backend.TenantKey) cacheKey {
	h := sha256.New()
	h.Write([]byte(tk.TenantID))
	h.Write([]byte{0})
	h.Write(tk.Blob)
	var k cacheKey
	h.Sum(k[:0])
	return k
}

type cacheEntry struct {
	ready   chan struct{} // closed when aead or err is set
	aead    cipher.AEAD
	err     error
	expires time.Time
}

// Open connects to the KMS described by cfg. It does not call the KMS
// (Check does); the API key is read now, so a missing secret fails here.
func Open(ctx context.Context, cfg config.HPCS, opts Options) (*Backend, error) {
	if cfg.URL == "" || cfg.RootKeyID == "" {
		return nil, errors.New("backend.hpcs: url and root_key_id are required")
	}
	cfg = cfg.WithDefaults()
	apiKey, err := cfg.APIKey.Value()
	if err != nil {
		return nil, fmt.Errorf("backend.hpcs.api_key: %w", err)
	}
	retry := retryPolicy{attempts: cfg.Retries + 1, base: cfg.RetryBase, max: cfg.RetryMax}
	br := newBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown)
	c, err := newClient(cfg.URL, cfg.IAMURL, cfg.InstanceID, cfg.KeyRing, apiKey, cfg.Timeout, retry, br, opts.Transport)
	if err != nil {
		return nil, fmt.Errorf("backend.hpcs.url: %w", err)
	}
	b := &Backend{
		cfg: cfg, client: c, log: *zerolog.Ctx(ctx), now: opts.Now,
		cache: map[cacheKey]*cacheEntry{}, moved: map[cacheKey]backend.TenantKey{}, latest: map[string]string{},
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b, nil
}

// NewTenantKey makes a tenant KEK: by the KMS (wrap without plaintext) or
// from crypto/rand (kek_source local), wrapped by the root key with the
// tenant in the additional data. The root key is the tenant's own
// (backend.WithTenantRoot), checked first, or root_key_id. The KEK goes
// into the cache.
func (b *Backend) NewTenantKey(ctx context.Context, tenantID string) (backend.TenantKey, error) {
	if err := b.open(); err != nil {
		return backend.TenantKey{}, err
	}
	root := b.cfg.RootKeyID
	if own := backend.TenantRootFrom(ctx); own != "" && own != root {
		if err := b.checkTenantRoot(ctx, tenantID, own); err != nil {
			return backend.TenantKey{}, err
		}
		root = own
	}
	var plaintext []byte
	if b.cfg.KEKSource == "local" {
		plaintext = make([]byte, 32)
		if _, err := rand.Read(plaintext); err != nil {
			return backend.TenantKey{}, fmt.Errorf("hpcs: random KEK: %w", err)
		}
	}
	res, err := b.client.wrap(ctx, root, plaintext, kekAAD(tenantID, root))
	if err != nil {
		return backend.TenantKey{}, fmt.Errorf("hpcs: wrap a new KEK for tenant %q under root key %s: %w", tenantID, root, err)
	}
	if plaintext == nil {
		plaintext = res.Plaintext
	}
	if len(plaintext) != 32 || res.Ciphertext == "" || res.KeyVersion == "" {
		return backend.TenantKey{}, fmt.Errorf("hpcs: the KMS wrap answer lacks a 256-bit key, a ciphertext or a key version: %w", backend.ErrUnavailable)
	}
	b.noteVersion(root, res.KeyVersion)
	blob, err := tenantBlob{rootKeyID: root, keyVersion: res.KeyVersion, ciphertext: res.Ciphertext}.encode()
	if err != nil {
		return backend.TenantKey{}, err
	}
	tk := backend.TenantKey{TenantID: tenantID, Blob: blob}
	aead, err := newAEAD(plaintext)
	clear(plaintext)
	if err != nil {
		return backend.TenantKey{}, err
	}
	b.put(keyOf(tk), aead)
	return tk, nil
}

// sealVersion is the first byte of what Seal returns.
const sealVersion = 1

// Seal encrypts under the tenant KEK with AES-256-GCM, in Go:
// version byte | 12-byte nonce | ciphertext and tag.
func (b *Backend) Seal(ctx context.Context, req backend.SealRequest) ([]byte, error) {
	aead, err := b.kek(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), 1+aead.NonceSize()+len(req.Plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("hpcs: nonce: %w", err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return aead.Seal(out, nonce, req.Plaintext, req.AdditionalData), nil
}

// Open reverses Seal.
func (b *Backend) Open(ctx context.Context, req backend.OpenRequest) ([]byte, error) {
	aead, err := b.kek(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	c := req.Ciphertext
	if len(c) < 1+ns+aead.Overhead() || c[0] != sealVersion {
		return nil, fmt.Errorf("hpcs: sealed material is malformed: %w", backend.ErrIntegrity)
	}
	pt, err := aead.Open(nil, c[1:1+ns], c[1+ns:], req.AdditionalData)
	if err != nil {
		return nil, fmt.Errorf("hpcs: sealed material failed authentication: %w", backend.ErrIntegrity)
	}
	return pt, nil
}

// Close forgets every cached KEK. Calling it twice is safe.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.cache = map[cacheKey]*cacheEntry{}
	return nil
}

func (b *Backend) open() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("hpcs: backend closed: %w", backend.ErrUnavailable)
	}
	return nil
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("hpcs: KEK: %w", err)
	}
	return cipher.NewGCM(block)
}

func (b *Backend) put(k cacheKey, aead cipher.AEAD) {
	e := &cacheEntry{ready: make(chan struct{}), aead: aead, expires: b.now().Add(b.cfg.CacheTTL)}
	close(e.ready)
	b.mu.Lock()
	b.cache[k] = e
	b.mu.Unlock()
}

// kek returns the tenant's KEK, unwrapping it by the KMS when it is not
// cached or its cache time ran out. Concurrent callers for one key share
// one unwrap. Failures are not cached: the next call asks the KMS again
// (the circuit breaker keeps that cheap when the KMS is down).
func (b *Backend) kek(ctx context.Context, tk backend.TenantKey) (cipher.AEAD, error) {
	if tk.Type != "" && tk.Type != Type {
		return nil, fmt.Errorf("hpcs: tenant %q is on root of trust %q; list it in backend.types: %w", tk.TenantID, tk.Type, backend.ErrKeyMissing)
	}
	k := keyOf(tk)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("hpcs: backend closed: %w", backend.ErrUnavailable)
	}
	for hops := 0; hops < 8; hops++ {
		moved, ok := b.moved[k]
		if !ok {
			break
		}
		// Lazily rewrapped earlier (perhaps after several rotations): the
		// ops layer may still hold the old blob; use the newest so the KMS
		// is not asked to rewrap again.
		tk, k = moved, keyOf(moved)
	}
	e, ok := b.cache[k]
	if ok {
		select {
		case <-e.ready:
			if e.err == nil && b.now().Before(e.expires) {
				b.mu.Unlock()
				return e.aead, nil
			}
			ok = false
		default:
		}
	}
	if !ok {
		// The unwrap is shared by every caller that arrives meanwhile,
		// so it runs on its own: one caller giving up (a KMIP client's
		// deadline) does not fail the others. It is bounded by the
		// whole retry budget.
		e = &cacheEntry{ready: make(chan struct{})}
		b.cache[k] = e
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.unwrapBudget())
		go func() {
			defer cancel()
			aead, err := b.unwrap(uctx, tk)
			b.mu.Lock()
			e.aead, e.err, e.expires = aead, err, b.now().Add(b.cfg.CacheTTL)
			if err != nil && b.cache[k] == e {
				delete(b.cache, k)
			}
			close(e.ready)
			b.mu.Unlock()
		}()
	}
	b.mu.Unlock()
	select {
	case <-e.ready:
		return e.aead, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("hpcs: waiting for the KEK of tenant %q: %w: %w", tk.TenantID, backend.ErrUnavailable, ctx.Err())
	}
}

// unwrapBudget bounds a shared unwrap: every attempt's timeout and the
// longest waits between them.
func (b *Backend) unwrapBudget() time.Duration {
	return time.Duration(b.cfg.Retries+1)*b.cfg.Timeout + time.Duration(b.cfg.Retries)*b.cfg.RetryMax
}

// unwrap asks the KMS for the tenant KEK. An answer with a rewrapped
// ciphertext (the root key was rotated since the blob was made) makes a
// new blob, reported through the rewrap hook so that it is stored.
func (b *Backend) unwrap(ctx context.Context, tk backend.TenantKey) (cipher.AEAD, error) {
	blob, err := parseBlob(tk.Blob)
	if err != nil {
		return nil, err
	}
	res, err := b.client.unwrap(ctx, blob.rootKeyID, blob.ciphertext, kekAAD(tk.TenantID, blob.rootKeyID))
	if err != nil {
		b.logKMSError(err, tk.TenantID, blob.rootKeyID, "unwrap")
		return nil, fmt.Errorf("hpcs: unwrap the KEK of tenant %q with root key %s: %w", tk.TenantID, blob.rootKeyID, err)
	}
	defer clear(res.Plaintext)
	if res.KeyVersion != "" && res.KeyVersion != blob.keyVersion {
		return nil, fmt.Errorf("hpcs: tenant key blob of %q names root key version %s, the KMS unwrapped it with %s: %w",
			tk.TenantID, blob.keyVersion, res.KeyVersion, backend.ErrIntegrity)
	}
	if len(res.Plaintext) != 32 {
		return nil, fmt.Errorf("hpcs: the KEK of tenant %q is %d bytes, not 32: %w", tk.TenantID, len(res.Plaintext), backend.ErrIntegrity)
	}
	aead, err := newAEAD(res.Plaintext)
	if err != nil {
		return nil, err
	}
	if res.Ciphertext != "" && res.RewrappedVersion != "" {
		b.noteVersion(blob.rootKeyID, res.RewrappedVersion)
		b.rewrapped(ctx, tk, tenantBlob{rootKeyID: blob.rootKeyID, keyVersion: res.RewrappedVersion, ciphertext: res.Ciphertext}, aead)
	} else if res.KeyVersion != "" {
		b.noteVersion(blob.rootKeyID, res.KeyVersion)
	}
	return aead, nil
}

// rewrapped records a tenant key that the KMS rewrapped during an unwrap
// and hands it to the rewrap hook (in its own goroutine, with its own
// deadline: storing it must not slow or fail the request that found it).
func (b *Backend) rewrapped(ctx context.Context, old backend.TenantKey, nb tenantBlob, aead cipher.AEAD) {
	p, err := nb.encode()
	if err != nil {
		return
	}
	updated := backend.TenantKey{TenantID: old.TenantID, Blob: p}
	b.mu.Lock()
	b.moved[keyOf(old)] = updated
	hook := b.onRewrap
	b.mu.Unlock()
	b.put(keyOf(updated), aead)
	b.log.Info().Str("tenant", old.TenantID).Str("root_key", nb.rootKeyID).Str("key_version", nb.keyVersion).
		Msg("tenant key rewrapped by the KMS after a root key rotation")
	if hook != nil {
		go func() {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			hook(hctx, old, updated)
		}()
	}
}

// OnRewrap sets the function told of tenant keys that the KMS rewrapped
// after a root key rotation (lazy rewrap): it should store updated in
// place of old. It implements backend.RewrapNotifier.
func (b *Backend) OnRewrap(f func(ctx context.Context, old, updated backend.TenantKey)) {
	b.mu.Lock()
	b.onRewrap = f
	b.mu.Unlock()
}

func (b *Backend) noteVersion(rootKeyID, version string) {
	b.mu.Lock()
	b.latest[rootKeyID] = version
	b.mu.Unlock()
}

// logKMSError logs what the KMS said about a tenant's root key when it
// means the tenant is unusable (disabled, deleted, access revoked), so
// that an operator finds the reason code in the log.
func (b *Backend) logKMSError(err error, tenantID, rootKeyID, action string) {
	var apiErr *APIError
	if errors.As(err, &apiErr) && !apiErr.retryable() {
		b.log.Warn().Str("tenant", tenantID).Str("root_key", rootKeyID).Str("action", action).
			Int("status", apiErr.Status).Str("reason", apiErr.Code).Str("correlation_id", apiErr.CorrelationID).
			Msg("KMS refused the tenant key")
	}
}

// Interface guards.
var (
	_ backend.Backend        = (*Backend)(nil)
	_ backend.Checker        = (*Backend)(nil)
	_ backend.RewrapNotifier = (*Backend)(nil)
)
