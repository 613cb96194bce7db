// Package backend holds the contract between the KMIP server and a root of
// trust: the customer's HSM partition (pkcs11) or a cloud KMS (hpcs).
//
// The core interface is the envelope of DESIGN.md section 4: a tenant KEK is
// made inside the root of trust and leaves it only wrapped by the root key
// (and MACed); object key material is sealed under the tenant KEK with
// additional data that binds it to the object. Everything else a backend can
// do (health checks, random numbers, rotation, ...) is an optional interface
// that callers discover with a type assertion.
package backend

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// Errors every backend returns (wrapped with %w) so that the protocol layer
// can map them to KMIP Result Reasons in one place.
var (
	// ErrUnavailable means the root of trust cannot be reached or used now
	// (HSM down, session lost, KMS unreachable). Retrying later may work.
	ErrUnavailable = errors.New("root of trust unavailable")
	// ErrIntegrity means a protected blob failed its MAC or authentication
	// tag: the store was tampered with, or the blob belongs elsewhere.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrKeyMissing means a key the backend relies on (MKEK, SKEY, a tenant
	// root key) does not exist or has the wrong type.
	ErrKeyMissing = errors.New("root of trust key missing")
	// ErrNotSupported means the root of trust does not offer what a kept
	// key's use asks (a mechanism, a parameter, a key size), while it
	// works: the request, not the root, is to change.
	ErrNotSupported = errors.New("not supported by the root of trust")
)

// TenantKey is a tenant KEK as the store keeps it: wrapped by the root key
// and MACed. Blob's format belongs to the backend that made it.
type TenantKey struct {
	TenantID string
	Blob     []byte
	// Type is the backend type that made the key ("pkcs11", "hpcs"), as
	// the store records it with the tenant; a Router sends the key to
	// that backend. Empty means the server's default type.
	Type string
	// Root is the tenant's own root key (store.TenantSettings.Root), ""
	// for the backend's configured one: where a rotation (RewrapTenantKey)
	// keeps or moves the key. The blob names the root that wrapped it, so
	// Open does not need it.
	Root string
}

// SealRequest asks a backend to encrypt object key material under a tenant
// KEK. AdditionalData is authenticated, not encrypted: it binds the
// ciphertext to the object (unique identifier, immutable attributes).
type SealRequest struct {
	Key            TenantKey
	Plaintext      []byte
	AdditionalData []byte
}

// OpenRequest reverses a SealRequest. The same AdditionalData must be given.
type OpenRequest struct {
	Key            TenantKey
	Ciphertext     []byte
	AdditionalData []byte
}

// Backend is a root of trust.
type Backend interface {
	// NewTenantKey makes a fresh tenant KEK inside the root of trust and
	// returns it wrapped by the root key and MACed, bound to tenantID.
	NewTenantKey(ctx context.Context, tenantID string) (TenantKey, error)
	// Seal encrypts key material under the tenant KEK.
	Seal(ctx context.Context, req SealRequest) ([]byte, error)
	// Open decrypts what Seal produced; a modified ciphertext, blob or
	// additional data gives ErrIntegrity.
	Open(ctx context.Context, req OpenRequest) ([]byte, error)
	// Close releases sessions and handles. Calling it twice is safe.
	Close() error
}

// RandomSource is implemented by backends that draw random bytes from the
// root of trust (the HSM's RNG). Key material for new keys comes from here
// when the backend offers it.
type RandomSource interface {
	Random(ctx context.Context, n int) ([]byte, error)
}

// CheckResult is one line of a root-of-trust self check.
type CheckResult struct {
	Name   string // what was checked, e.g. "MKEK"
	Label  string // the object label looked for, if any
	OK     bool
	Detail string // why it failed, or what was found
}

// Checker is implemented by backends that can verify, key by key, that the
// root of trust holds what the adapter needs (the server runs it at start,
// `kmipctl hsm check` prints it).
type Checker interface {
	Check(ctx context.Context) []CheckResult
}

// Factory opens a backend from its configuration section.
type Factory func(ctx context.Context, cfg config.Backend) (Backend, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a backend type available to New. Backends call it from
// init(); binaries choose backends by importing them.
func Register(typ string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[typ]; dup {
		panic("backend: Register called twice for " + typ)
	}
	registry[typ] = f
}

// Types lists the registered backend types, sorted.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// New opens the backend named by cfg.Type.
func New(ctx context.Context, cfg config.Backend) (Backend, error) {
	registryMu.RLock()
	f, ok := registry[cfg.Type]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("backend.type: unknown backend %q (known: %v)", cfg.Type, Types())
	}
	return f(ctx, cfg)
}
