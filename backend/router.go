package backend

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// RewrapNotifier is implemented by backends whose root of trust can hand
// back a tenant key rewrapped under a newer root key while unwrapping it
// (the KMS after a root key rotation): the function given is told of
// each, and should store updated in place of old (lazy rewrap).
type RewrapNotifier interface {
	OnRewrap(func(ctx context.Context, old, updated TenantKey))
}

// Router serves tenants on several roots of trust at once (for example
// some on the customer's HSM, some on a cloud KMS): it holds one backend
// per type, makes new tenant keys on the one Choose names, and sends
// Seal and Open to the backend that made the tenant key (TenantKey.Type;
// empty means the default type, as for keys stored before tenants named
// their backend).
type Router struct {
	backends map[string]Backend
	def      string
	// Choose names the backend type of a new tenant; nil means the
	// default type. A tenant registry sets it.
	Choose func(ctx context.Context, tenantID string) string
}

// NewRouter routes over backends (by type); def is the default type and
// must be among them.
func NewRouter(backends map[string]Backend, def string) (*Router, error) {
	if _, ok := backends[def]; !ok {
		return nil, fmt.Errorf("backend.type: %q is not among the opened backends", def)
	}
	return &Router{backends: backends, def: def}, nil
}

// Open opens every backend that cfg enables (backend.types, or
// backend.type alone). One backend is returned as it is; several come in a
// Router. A failure closes what was opened.
func Open(ctx context.Context, cfg config.Backend) (Backend, error) {
	types := cfg.EnabledTypes()
	if len(types) == 1 && types[0] == cfg.Type {
		return New(ctx, cfg)
	}
	opened := map[string]Backend{}
	for _, t := range types {
		c := cfg
		c.Type = t
		b, err := New(ctx, c)
		if err != nil {
			for _, o := range opened {
				_ = o.Close()
			}
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		opened[t] = b
	}
	return NewRouter(opened, cfg.Type)
}

// Backend returns the backend of a type.
func (r *Router) Backend(typ string) (Backend, bool) {
	b, ok := r.backends[typ]
	return b, ok
}

func (r *Router) route(tk TenantKey) (Backend, error) {
	typ := tk.Type
	if typ == "" {
		typ = r.def
	}
	b, ok := r.backends[typ]
	if !ok {
		return nil, fmt.Errorf("tenant %q is on root of trust %q, which this server does not open (backend.types): %w", tk.TenantID, typ, ErrKeyMissing)
	}
	return b, nil
}

// NewTenantKey makes the tenant key on the chosen backend and records
// the type in the key.
func (r *Router) NewTenantKey(ctx context.Context, tenantID string) (TenantKey, error) {
	typ := tenantTypeFrom(ctx)
	if typ == "" {
		typ = r.recordMACRootType(ctx) // recordmac.go
	}
	if typ == "" && r.Choose != nil {
		typ = r.Choose(ctx, tenantID)
	}
	if typ == "" {
		typ = r.def
	}
	b, err := r.route(TenantKey{TenantID: tenantID, Type: typ})
	if err != nil {
		return TenantKey{}, err
	}
	tk, err := b.NewTenantKey(ctx, tenantID)
	if err != nil {
		return TenantKey{}, err
	}
	tk.Type = typ
	return tk, nil
}

// Seal goes to the backend that made req.Key.
func (r *Router) Seal(ctx context.Context, req SealRequest) ([]byte, error) {
	b, err := r.route(req.Key)
	if err != nil {
		return nil, err
	}
	return b.Seal(ctx, req)
}

// Open goes to the backend that made req.Key.
func (r *Router) Open(ctx context.Context, req OpenRequest) ([]byte, error) {
	b, err := r.route(req.Key)
	if err != nil {
		return nil, err
	}
	return b.Open(ctx, req)
}

// Close closes every backend.
func (r *Router) Close() error {
	var errs []error
	for _, b := range r.backends {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// Random draws from the default backend's RNG when it has one (the HSM),
// else from the first backend that has one, else from crypto/rand.
func (r *Router) Random(ctx context.Context, n int) ([]byte, error) {
	if rs, ok := As[RandomSource](r.backends[r.def]); ok {
		return rs.Random(ctx, n)
	}
	for _, t := range r.types() {
		if rs, ok := As[RandomSource](r.backends[t]); ok {
			return rs.Random(ctx, n)
		}
	}
	out := make([]byte, n)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return out, nil
}

// Check runs every backend's check, each line's name prefixed with its
// type.
func (r *Router) Check(ctx context.Context) []CheckResult {
	var out []CheckResult
	for _, t := range r.types() {
		c, ok := As[Checker](r.backends[t])
		if !ok {
			continue
		}
		for _, res := range c.Check(ctx) {
			res.Name = t + ": " + res.Name
			out = append(out, res)
		}
	}
	return out
}

// OnRewrap passes f to every backend that rewraps lazily, with the type
// recorded in the keys it reports.
func (r *Router) OnRewrap(f func(ctx context.Context, old, updated TenantKey)) {
	for t, b := range r.backends {
		if n, ok := As[RewrapNotifier](b); ok {
			n.OnRewrap(func(ctx context.Context, old, updated TenantKey) {
				old.Type, updated.Type = t, t
				f(ctx, old, updated)
			})
		}
	}
}

func (r *Router) types() []string {
	out := make([]string, 0, len(r.backends))
	for t := range r.backends {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// String names the routed types, default first.
func (r *Router) String() string {
	return "router(" + r.def + "; " + strings.Join(r.types(), ",") + ")"
}

// Interface guards.
var (
	_ Backend        = (*Router)(nil)
	_ RandomSource   = (*Router)(nil)
	_ Checker        = (*Router)(nil)
	_ RewrapNotifier = (*Router)(nil)
)

type tenantTypeKey struct{}

// WithTenantType asks the Router, through ctx, to make the new tenant key
// of NewTenantKey on the root of trust of type typ (an operator's choice
// when creating a tenant), ahead of Choose and the default.
func WithTenantType(ctx context.Context, typ string) context.Context {
	return context.WithValue(ctx, tenantTypeKey{}, typ)
}

func tenantTypeFrom(ctx context.Context) string {
	typ, _ := ctx.Value(tenantTypeKey{}).(string)
	return typ
}
