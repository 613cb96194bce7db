package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

func init() {
	backend.Register("pkcs11", func(ctx context.Context, cfg config.Backend) (backend.Backend, error) {
		b, err := Open(ctx, cfg.PKCS11)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return b, nil
	})
}

// Backend is the root of trust on an HSM set: one partition, or several
// partitions holding the same key set (an HA set). Requests are spread
// over the members that work; a member that fails is taken out, tried
// again in the background with a growing delay, and put back when it
// answers. All methods are safe for concurrent use.
type Backend struct {
	// life is held shared by every call and exclusively by Close, so Close
	// waits for calls in flight and no call starts on a closed Backend.
	// closing refuses new calls while Close waits (a call stuck in a hung
	// module never lets go: Close waits for it at most call_timeout).
	life    sync.RWMutex
	closed  bool
	closing atomic.Bool
	// leave is life.RUnlock, made once: a method value made per call
	// would be an allocation on every operation.
	leave func()

	cfg     config.PKCS11
	members []*member
	next    atomic.Uint64 // round robin over the members

	// healthMu guards every member's health; wake starts the prober
	// early (a member went down), stop and done end it.
	healthMu sync.Mutex
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	failover atomic.Uint64 // requests moved to another member

	logMu sync.Mutex
	log   zerolog.Logger
}

var errClosed = fmt.Errorf("%w: pkcs11: backend is closed", backend.ErrUnavailable)

// Open connects to the members of cfg (backend.pkcs11.members, or the one
// partition cfg.Module and cfg.TokenLabel name), logs in to each with the
// PIN from cfg.PIN and resolves the key set by label.
//
// Open fails only if no member can be reached and logged in to; members
// that fail are retried in the background. A missing or unusable key does
// not make it fail: Check reports it key by key (so that `kmipctl hsm
// check` can say what to fix), and the calls that need the key return an
// error matching backend.ErrKeyMissing. The server runs Check at start
// and refuses to serve on a failure.
//
// Member state changes are logged with the zerolog logger of ctx
// (zerolog.Ctx), or as JSON lines on standard error when ctx has none;
// SetLogger replaces it.
//
// Each member keeps up to cfg.SessionPoolSize sessions for calls, plus
// one anchor session that owns the unwrapped tenant KEKs.
func Open(ctx context.Context, cfg config.PKCS11) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Module == "" && len(cfg.Members) == 0:
		return nil, errors.New("pkcs11: module: required")
	case cfg.MKEKLabel == "" || cfg.SKEYLabel == "" || cfg.IKEYLabel == "" || cfg.TKEKPrefix == "":
		return nil, errors.New("pkcs11: mkek_label, skey_label, ikey_label and tkek_prefix are required")
	case cfg.SessionPoolSize < 1:
		return nil, fmt.Errorf("pkcs11: session_pool_size: %d is less than 1", cfg.SessionPoolSize)
	}
	specs, err := cfg.MemberSet()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	mech, err := mechanismsFor(cfg.Mechanisms)
	if err != nil {
		return nil, err
	}
	pin, err := cfg.PIN.Value()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: pin: %w", err) // names the source, never the value
	}
	fillRetryDefaults(&cfg)
	b := &Backend{
		cfg:  cfg,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		log:  loggerFrom(ctx),
	}
	b.leave = b.life.RUnlock
	var failed []error
	for i, spec := range specs {
		m := newMember(i+1, spec, cfg, pin, mech)
		b.members = append(b.members, m)
		if err := m.connect(ctx); err != nil {
			m.forget(false)
			b.setDown(m, err)
			failed = append(failed, err)
			continue
		}
		m.up.Store(true)
		m.health.since = now()
	}
	if len(failed) == len(specs) {
		for _, m := range b.members {
			m.close()
		}
		if len(failed) == 1 {
			return nil, failed[0]
		}
		return nil, fmt.Errorf("%w: pkcs11: no member of the HSM set could be reached: %s", backend.ErrUnavailable, b.downSummary())
	}
	for _, m := range b.members {
		if !m.up.Load() {
			b.logger().Warn().Int("member", m.idx).Str("token", m.spec.TokenLabel).Str("module", m.spec.Module).
				Str("reason", m.health.reason).Msg("hsm member down at start; retrying in the background")
		}
	}
	go b.prober()
	return b, nil
}

// fillRetryDefaults gives a configuration built in code (not through
// config.Default) the default retry timings.
func fillRetryDefaults(cfg *config.PKCS11) {
	d := config.Default().Backend.PKCS11
	if cfg.MemberRetry <= 0 {
		cfg.MemberRetry = d.MemberRetry
	}
	if cfg.MemberRetryMax < cfg.MemberRetry {
		cfg.MemberRetryMax = max(d.MemberRetryMax, cfg.MemberRetry)
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = d.HealthInterval
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = d.CallTimeout
	}
}

// loggerFrom returns the logger of ctx (even a disabled one), or a JSON
// logger on standard error when ctx has none.
func loggerFrom(ctx context.Context) zerolog.Logger {
	if l := zerolog.Ctx(ctx); l != zerolog.Ctx(context.Background()) || zerolog.DefaultContextLogger != nil {
		return l.With().Str("component", "pkcs11").Logger()
	}
	return zerolog.New(os.Stderr).With().Timestamp().Str("component", "pkcs11").Logger()
}

// SetLogger sets where member state changes are logged.
func (b *Backend) SetLogger(l zerolog.Logger) {
	b.logMu.Lock()
	b.log = l.With().Str("component", "pkcs11").Logger()
	b.logMu.Unlock()
}

func (b *Backend) logger() *zerolog.Logger {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	l := b.log
	return &l
}

// enter starts a call: it holds life shared until the returned func runs.
func (b *Backend) enter() (func(), error) {
	if b.closing.Load() {
		return nil, errClosed
	}
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return nil, errClosed
	}
	if b.leave == nil { // a Backend not made by Open (tests)
		return b.life.RUnlock, nil
	}
	return b.leave, nil
}

// NewTenantKey generates an AES-256 KEK in the HSM, wraps it with the MKEK
// (AES key wrap with padding), destroys the generated object and returns
// the blob, MACed with the SKEY and bound to tenantID (format in blob.go).
// Every member holds the same MKEK and SKEY, so any member can unwrap it.
func (b *Backend) NewTenantKey(ctx context.Context, tenantID string) (backend.TenantKey, error) {
	if tenantID == "" {
		return backend.TenantKey{}, errors.New("pkcs11: new tenant key: empty tenant ID")
	}
	blob, err := onMember(b, ctx, "new tenant key", func(m *member) ([]byte, error) {
		return m.newTenantKey(ctx, tenantID)
	})
	if err != nil {
		return backend.TenantKey{}, err
	}
	return backend.TenantKey{TenantID: tenantID, Blob: blob}, nil
}

// Seal encrypts req.Plaintext with AES-GCM inside the HSM under the tenant
// KEK, with a fresh IV from the HSM's RNG and req.AdditionalData as AAD
// (format in blob.go).
func (b *Backend) Seal(ctx context.Context, req backend.SealRequest) ([]byte, error) {
	return onMember(b, ctx, "seal", func(m *member) ([]byte, error) { return m.seal(ctx, req) })
}

// Open decrypts what Seal made. A changed ciphertext, tenant key blob or
// additional data gives an error matching backend.ErrIntegrity.
func (b *Backend) Open(ctx context.Context, req backend.OpenRequest) ([]byte, error) {
	if len(req.Ciphertext) < sealedHeader+gcmTagBits/8 {
		return nil, fmt.Errorf("pkcs11: open: %w: ciphertext is %d bytes", backend.ErrIntegrity, len(req.Ciphertext))
	}
	if req.Ciphertext[0] != sealedVersion {
		return nil, fmt.Errorf("pkcs11: open: %w: ciphertext version 0x%02X is unknown", backend.ErrIntegrity, req.Ciphertext[0])
	}
	return onMember(b, ctx, "open", func(m *member) ([]byte, error) { return m.open(ctx, req) })
}

// Random returns n bytes from the HSM's random number generator
// (C_GenerateRandom). The KMIP layer draws the material of every key it
// creates from here (backend.RandomSource), so on this backend no key
// material comes from Go's random number generator.
func (b *Backend) Random(ctx context.Context, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("pkcs11: random: negative length %d", n)
	}
	if n == 0 {
		return []byte{}, nil
	}
	return onMember(b, ctx, "random", func(m *member) ([]byte, error) { return m.random(ctx, n) })
}

// onMember runs fn on a working member of the set (b.do: failover and
// retry) while the backend is held open (b.enter), and names the failed
// operation in the error. An error of enter (the backend is closed) is
// returned as it is.
func onMember[T any](b *Backend, ctx context.Context, op string, fn func(m *member) (T, error)) (T, error) {
	var zero T
	leave, err := b.enter()
	if err != nil {
		return zero, err
	}
	defer leave()
	var out T
	err = b.do(ctx, func(m *member) error {
		var err error
		out, err = fn(m)
		return err
	})
	if err != nil {
		return zero, fmt.Errorf("pkcs11: %s: %w", op, err)
	}
	return out, nil
}

// Close stops the background retries, destroys the unwrapped tenant KEKs,
// closes every session and releases the modules (C_Finalize once no
// Backend of the process uses one). It refuses new calls and waits for
// those in flight, at most call_timeout: when a hung member does not give
// its calls back, Close returns an error saying so and leaves that
// member's sessions to the end of the process (a call in C cannot be
// abandoned), rather than keep a shutting-down server from exiting.
// Calling it again after it succeeded does nothing.
func (b *Backend) Close() error {
	b.closing.Store(true)
	if !lockWithin(&b.life, b.cfg.CallTimeout) {
		return fmt.Errorf("pkcs11: close: calls in flight have not returned within call_timeout (%s): a member is hung; its sessions end with the process", b.cfg.CallTimeout)
	}
	defer b.life.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.stop)
	<-b.done
	var hung []string
	for _, m := range b.members {
		// A health check or a revive may still hold the member, in a
		// call that does not return.
		if !lockWithin(&m.use, b.cfg.CallTimeout) {
			hung = append(hung, m.String())
			continue
		}
		m.close()
		m.use.Unlock()
	}
	if len(hung) > 0 {
		return fmt.Errorf("pkcs11: close: %s still in a call after call_timeout (%s): hung; its sessions end with the process", strings.Join(hung, ", "), b.cfg.CallTimeout)
	}
	return nil
}

// lockWithin takes l exclusively, waiting at most d (0: for ever); it
// reports whether it did.
func lockWithin(l interface {
	Lock()
	TryLock() bool
}, d time.Duration) bool {
	if d <= 0 {
		l.Lock()
		return true
	}
	deadline := time.Now().Add(d)
	for !l.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// downSummary describes every member that is out, for errors and Check.
func (b *Backend) downSummary() string {
	b.healthMu.Lock()
	defer b.healthMu.Unlock()
	var parts []string
	t := now()
	for _, m := range b.members {
		if m.up.Load() {
			continue
		}
		h := m.health
		part := fmt.Sprintf("%s is down since %s: %s", m, h.since.Format("15:04:05.000"), h.cause)
		if h.reason != h.cause {
			part += "; last try: " + h.reason
		}
		switch {
		case h.final:
			part += "; not retried (fix it and restart the adapter)"
		case h.next.After(t):
			part += fmt.Sprintf("; next try in %s", h.next.Sub(t).Round(timeRound))
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// Interface guards.
var (
	_ backend.Backend      = (*Backend)(nil)
	_ backend.RandomSource = (*Backend)(nil)
	_ backend.Checker      = (*Backend)(nil)
)
