package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Modes say when the registry decides who a client is.
const (
	// ModeAuto uses the registry once it holds a client or a tenant made
	// through the admin API, the configured single tenant before.
	ModeAuto = "auto"
	// ModeRegistry always uses the registry: an empty one refuses every
	// client.
	ModeRegistry = "registry"
	// ModeConfig never uses the registry (server.tenant only).
	ModeConfig = "config"
)

// Options configure New.
type Options struct {
	Registry store.Registry
	// Server holds the configured single-tenant identity (server.tenant,
	// server.vsphere_clients).
	Server config.Server
	// Mode is ModeAuto ("" too), ModeRegistry or ModeConfig.
	Mode string
	// Poll is how often Run checks the store for changes made by other
	// nodes (default 2s).
	Poll time.Duration
	// Audit records refusals (audit.SourceAuth); nil is audit.Nop.
	Audit audit.Recorder
	Log   zerolog.Logger
	// Now is the clock of audit events; nil is time.Now.
	Now func() time.Time
}

// Identity is the registry-backed client identifier.
type Identity struct {
	opts   Options
	legacy server.Identifier
	snap   atomic.Pointer[snapshot]
	// global is the server's client CA pool (tls.client_ca_file), set by
	// TLSConfig on start and on every reload.
	global   atomic.Pointer[x509.CertPool]
	reloadMu sync.Mutex
	// reloads and reloadFailures count Invalidate's outcomes (metrics.go).
	reloads, reloadFailures atomic.Uint64
}

// tenantEntry is a tenant as the identity layer uses it.
type tenantEntry struct {
	t       *store.Tenant
	cas     *x509.CertPool // nil: the tenant trusts no CA of its own
	allowed map[message.Operation]bool
}

// snapshot is one consistent reading of the registry.
type snapshot struct {
	serial   uint64
	registry bool
	tenants  map[string]*tenantEntry
	byFP     map[string]*store.Client
	rules    []*store.Client
	// tenantCAs holds the CAs of every enabled tenant; noEKU is set when
	// an enabled tenant accepts certificates without clientAuth.
	tenantCAs     *x509.CertPool
	tenantCACerts []*x509.Certificate
	noEKU         bool
}

// New loads the registry and returns the identifier.
func New(ctx context.Context, o Options) (*Identity, error) {
	switch o.Mode {
	case "":
		o.Mode = ModeAuto
	case ModeAuto, ModeRegistry, ModeConfig:
	default:
		return nil, fmt.Errorf("identity mode %q is not auto, registry or config", o.Mode)
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Audit == nil {
		o.Audit = audit.Nop{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	id := &Identity{opts: o, legacy: server.ConfiguredIdentity(o.Server)}
	if err := id.Invalidate(ctx); err != nil {
		return nil, err
	}
	return id, nil
}

// RegistryMode reports whether the registry decides who clients are now.
func (id *Identity) RegistryMode() bool { return id.snap.Load().registry }

// Invalidate reloads the registry now. On error the previous reading
// stays in force.
func (id *Identity) Invalidate(ctx context.Context) error {
	id.reloadMu.Lock()
	defer id.reloadMu.Unlock()
	s, err := id.load(ctx)
	if err != nil {
		id.reloadFailures.Add(1)
		return fmt.Errorf("load client registry: %w", err)
	}
	id.reloads.Add(1)
	if old := id.snap.Load(); old != nil && old.registry != s.registry {
		id.opts.Log.Warn().Bool("registry", s.registry).Msg("client identity mode changed: registered clients only, or the configured single tenant")
	}
	id.snap.Store(s)
	return nil
}

// Run polls the registry's serial until ctx ends and reloads when another
// process changed it.
func (id *Identity) Run(ctx context.Context) {
	t := time.NewTicker(id.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if id.opts.Registry == nil {
			continue
		}
		serial, err := id.opts.Registry.RegistrySerial(ctx)
		if err != nil {
			id.opts.Log.Warn().Err(err).Msg("client registry poll failed; keeping the current registry")
			continue
		}
		if serial != id.snap.Load().serial {
			if err := id.Invalidate(ctx); err != nil {
				id.opts.Log.Warn().Err(err).Msg("client registry reload failed; keeping the current registry")
			}
		}
	}
}

func (id *Identity) load(ctx context.Context) (*snapshot, error) {
	s := &snapshot{tenants: map[string]*tenantEntry{}, byFP: map[string]*store.Client{}}
	reg := id.opts.Registry
	if reg == nil || id.opts.Mode == ModeConfig {
		return s, nil
	}
	var err error
	if s.serial, err = reg.RegistrySerial(ctx); err != nil {
		return nil, err
	}
	tenants, err := reg.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := reg.ListClients(ctx, "")
	if err != nil {
		return nil, err
	}
	s.registry = id.opts.Mode == ModeRegistry || len(clients) > 0
	for _, t := range tenants {
		e := &tenantEntry{t: t}
		if t.Status != "" {
			s.registry = id.opts.Mode != ModeConfig
		}
		for i, p := range t.TrustedCAs {
			certs, err := ParseCertificates([]byte(p))
			if err != nil {
				id.opts.Log.Error().Err(err).Str("tenant", t.ID).Int("ca", i+1).Msg("tenant trusted CA unreadable; ignored")
				continue
			}
			if e.cas == nil {
				e.cas = x509.NewCertPool()
			}
			for _, c := range certs {
				e.cas.AddCert(c)
				if t.Status == store.TenantEnabled {
					if s.tenantCAs == nil {
						s.tenantCAs = x509.NewCertPool()
					}
					s.tenantCAs.AddCert(c)
					s.tenantCACerts = append(s.tenantCACerts, c)
				}
			}
		}
		if len(t.Policy.AllowedOperations) > 0 {
			if e.allowed, err = ParseOperations(t.Policy.AllowedOperations); err != nil {
				id.opts.Log.Error().Err(err).Str("tenant", t.ID).Msg("tenant allowed operations unreadable: the tenant may call nothing")
				e.allowed = map[message.Operation]bool{}
			}
		}
		if t.Status == store.TenantEnabled && t.Policy.AllowNoClientAuthEKU {
			s.noEKU = true
		}
		s.tenants[t.ID] = e
	}
	for _, c := range clients {
		if c.Fingerprint != "" {
			s.byFP[strings.ToLower(c.Fingerprint)] = c
		} else if !c.Match.IsZero() {
			s.rules = append(s.rules, c)
		}
	}
	return s, nil
}

// ParseOperations reads operation names ("Get", "Discover Versions",
// "discoverversions": case and spaces do not matter).
func ParseOperations(names []string) (map[message.Operation]bool, error) {
	out := map[message.Operation]bool{}
	for _, n := range names {
		op, ok := operationsByName[opKey(n)]
		if !ok {
			return nil, fmt.Errorf("%q is not a KMIP operation", n)
		}
		out[op] = true
	}
	return out, nil
}

func opKey(name string) string { return strings.ToLower(strings.ReplaceAll(name, " ", "")) }

// operationsByName maps every operation's name, folded by opKey, to its
// value.
var operationsByName = func() map[string]message.Operation {
	m := map[string]message.Operation{}
	for _, v := range kmip20.OperationEnum.Values() {
		if name, ok := kmip20.OperationEnum.Name(v); ok {
			m[opKey(name)] = message.Operation(v)
		}
	}
	return m
}()

// ParseCertificates reads every CERTIFICATE block of a PEM text; none is
// an error.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

// Matches reports whether a certificate satisfies a match rule: every
// field set holds. A rule without fields matches nothing.
func Matches(r store.MatchRule, c *x509.Certificate) bool {
	if r.IsZero() {
		return false
	}
	if r.SubjectCN != "" && !strings.EqualFold(c.Subject.CommonName, r.SubjectCN) {
		return false
	}
	if r.Issuer != "" && !strings.EqualFold(c.Issuer.String(), r.Issuer) {
		return false
	}
	if r.SAN != "" && !hasSAN(c, r.SAN) {
		return false
	}
	return true
}

func hasSAN(c *x509.Certificate, san string) bool {
	for _, n := range c.DNSNames {
		if strings.EqualFold(n, san) {
			return true
		}
	}
	for _, n := range c.EmailAddresses {
		if strings.EqualFold(n, san) {
			return true
		}
	}
	for _, u := range c.URIs {
		if u.String() == san {
			return true
		}
	}
	if ip := net.ParseIP(san); ip != nil {
		for _, a := range c.IPAddresses {
			if a.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// find returns the one registered client of a certificate.
func (s *snapshot) find(leaf *x509.Certificate, fp string) (*store.Client, error) {
	if c, ok := s.byFP[fp]; ok {
		return c, nil
	}
	var found []*store.Client
	for _, c := range s.rules {
		if Matches(c.Match, leaf) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("client certificate %s is not registered", fp)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, c := range found {
		names[i] = c.TenantID + "/" + c.Name
	}
	sort.Strings(names)
	return nil, fmt.Errorf("client certificate %s matches several registered clients (%s); it must match one", fp, strings.Join(names, ", "))
}

// Identify implements server.ConnIdentifier.
func (id *Identity) Identify(ctx context.Context, state tls.ConnectionState, remote string) (ops.Client, error) {
	if len(state.PeerCertificates) == 0 {
		return ops.Client{}, errors.New("no client certificate")
	}
	leaf := state.PeerCertificates[0]
	s := id.snap.Load()
	if !s.registry && id.opts.Mode == ModeAuto && id.opts.Registry != nil {
		// Serving the configured single tenant is the permissive mode:
		// before using it, make sure no node has started the registry
		// since the last poll (one small read per connection, only in
		// this mode).
		serial, err := id.opts.Registry.RegistrySerial(ctx)
		if err != nil {
			return ops.Client{}, fmt.Errorf("client registry: %w", err)
		}
		if serial != s.serial {
			if err := id.Invalidate(ctx); err != nil {
				return ops.Client{}, err
			}
			s = id.snap.Load()
		}
	}
	fp := server.Fingerprint(leaf)
	if !s.registry {
		c, err := id.legacy(leaf)
		if err != nil || id.opts.Mode != ModeAuto {
			return c, err
		}
		// Once the registry is in use, this connection's next request
		// is refused: its client was never registered.
		ev := audit.Event{Source: audit.SourceAuth, Fingerprint: fp, Remote: remote, Operation: "connect", Client: leaf.Subject.String()}
		c.Authenticate = func(ctx context.Context, _ ttlv.TTLV) error {
			if id.snap.Load().registry {
				return id.refuse(ctx, ev, "the client registry is now in use and this certificate was accepted before it; reconnect")
			}
			return nil
		}
		return c, nil
	}
	ev := audit.Event{Source: audit.SourceAuth, Fingerprint: fp, Remote: remote, Operation: "connect", Client: leaf.Subject.String()}
	c, err := s.find(leaf, fp)
	if err != nil {
		return ops.Client{}, id.refuse(ctx, ev, err.Error())
	}
	ev.Tenant, ev.Client = c.TenantID, c.Name
	te := s.tenants[c.TenantID]
	switch {
	case te == nil:
		return ops.Client{}, id.refuse(ctx, ev, "the client's tenant does not exist")
	case te.t.Status == store.TenantDisabled:
		return ops.Client{}, id.refuse(ctx, ev, "the client's tenant is disabled")
	case !c.Enabled:
		return ops.Client{}, id.refuse(ctx, ev, "the client is disabled")
	}
	if err := id.trusted(leaf, state.PeerCertificates[1:], te); err != nil {
		return ops.Client{}, id.refuse(ctx, ev, err.Error())
	}
	client := ops.Client{
		Tenant: c.TenantID, Name: c.Name,
		Policy: ops.Policy{ActivateOnCreate: te.t.Policy.ActivateOnCreate, AllowedOperations: te.allowed},
	}
	var cred *credentialCheck
	if te.t.Policy.RequireCredential || c.Credential != nil {
		cred = &credentialCheck{id: id, client: c, required: te.t.Policy.RequireCredential, event: ev}
	}
	// Every request checks that the client is still registered and
	// enabled in an enabled tenant: a removal or a disable applies to
	// open connections too, at their next request. (Policy changes apply
	// to new connections.)
	client.Authenticate = func(ctx context.Context, auth ttlv.TTLV) error {
		if reason := id.stillValid(leaf, fp, c); reason != "" {
			return id.refuse(ctx, ev, reason)
		}
		if cred != nil {
			return cred.check(ctx, auth)
		}
		return nil
	}
	return client, nil
}

// stillValid says why a connection's client no longer holds ("" if it
// does), on the current reading of the registry.
func (id *Identity) stillValid(leaf *x509.Certificate, fp string, was *store.Client) string {
	s := id.snap.Load()
	if !s.registry {
		return "the client registry is no longer in use; reconnect"
	}
	c, err := s.find(leaf, fp)
	switch {
	case err != nil:
		return err.Error()
	case c.TenantID != was.TenantID || c.Name != was.Name:
		return "the certificate now maps to another client; reconnect"
	case !c.Enabled:
		return "the client is disabled"
	}
	if te := s.tenants[c.TenantID]; te == nil || te.t.Status == store.TenantDisabled {
		return "the client's tenant is disabled or gone"
	}
	return ""
}

// trusted checks that the certificate chains to the server's client CA or
// to one of the tenant's own CAs, for client authentication unless the
// tenant accepts certificates without that usage.
func (id *Identity) trusted(leaf *x509.Certificate, chain []*x509.Certificate, te *tenantEntry) error {
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	usages := [][]x509.ExtKeyUsage{{x509.ExtKeyUsageClientAuth}}
	if te.t.Policy.AllowNoClientAuthEKU {
		usages = append(usages, []x509.ExtKeyUsage{x509.ExtKeyUsageAny})
	}
	var firstErr error
	for _, u := range usages {
		for _, roots := range []*x509.CertPool{id.global.Load(), te.cas} {
			if roots == nil {
				continue
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: u})
			if err == nil {
				return nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return fmt.Errorf("client certificate is not trusted for tenant %q: %v", te.t.ID, firstErr)
}

// refuse records the refusal and returns the KMIP error the client gets.
func (id *Identity) refuse(ctx context.Context, ev audit.Event, reason string) error {
	ev.Time = id.opts.Now().UTC()
	ev.Result = kmip20.ResultReasonAuthenticationNotSuccessful.String()
	ev.Reason = reason
	if err := id.opts.Audit.Record(ctx, ev); err != nil {
		id.opts.Log.Error().Err(err).Msg("audit record of a refused client failed")
	}
	return message.Errorf(kmip20.ResultReasonAuthenticationNotSuccessful, "%s", reason)
}

// TLSConfig adapts the listener's TLS configuration to the registry: the
// handshake asks for any client certificate, and VerifyConnection checks
// it against the server's client CA (base.ClientCAs) and the CAs enabled
// tenants trust, refusing expired and untrusted certificates at the
// handshake as before. A certificate without the clientAuth usage passes
// only while an enabled tenant accepts such certificates; Identify then
// holds it to its own tenant's policy. The CA names the server sends
// include the tenants' CAs, for clients that choose their certificate by
// them.
func (id *Identity) TLSConfig(base *tls.Config) *tls.Config {
	global := base.ClientCAs
	id.global.Store(global)
	out := base.Clone()
	out.ClientAuth = tls.RequireAnyClientCert
	out.VerifyConnection = func(cs tls.ConnectionState) error { return id.verifyHandshake(cs, global) }
	out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		// One configuration per handshake, to know who a refusal was
		// for. A clone without session ticket keys of its own resumes
		// sessions with out's keys, so resumption works across them.
		c := out.Clone()
		c.GetConfigForClient = nil
		remote := ""
		if hello != nil && hello.Conn != nil {
			remote = hello.Conn.RemoteAddr().String()
		}
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			err := id.verifyHandshake(cs, global)
			if err != nil {
				id.handshakeRefused(cs, remote, err)
			}
			return err
		}
		if s := id.snap.Load(); s.registry && len(s.tenantCACerts) > 0 {
			hints := x509.NewCertPool()
			if global != nil {
				hints = global.Clone()
			}
			for _, ca := range s.tenantCACerts {
				hints.AddCert(ca)
			}
			c.ClientCAs = hints
		}
		return c, nil
	}
	return out
}

// handshakeRefused records a certificate refused at the handshake
// (expired, untrusted, or not for client authentication).
func (id *Identity) handshakeRefused(cs tls.ConnectionState, remote string, err error) {
	ev := audit.Event{Source: audit.SourceAuth, Remote: remote, Operation: "handshake"}
	if len(cs.PeerCertificates) > 0 {
		ev.Fingerprint = server.Fingerprint(cs.PeerCertificates[0])
		ev.Client = cs.PeerCertificates[0].Subject.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = id.refuse(ctx, ev, err.Error())
}

func (id *Identity) verifyHandshake(cs tls.ConnectionState, global *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: client didn't provide a certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	s := id.snap.Load()
	roots := []*x509.CertPool{global}
	if s.registry && s.tenantCAs != nil {
		roots = append(roots, s.tenantCAs)
	}
	usages := [][]x509.ExtKeyUsage{{x509.ExtKeyUsageClientAuth}}
	if s.registry && s.noEKU {
		usages = append(usages, []x509.ExtKeyUsage{x509.ExtKeyUsageAny})
	}
	var firstErr error
	for _, u := range usages {
		for _, r := range roots {
			if r == nil {
				continue
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: r, Intermediates: inter, KeyUsages: u})
			if err == nil {
				return nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr == nil {
		firstErr = errors.New("no trusted client CA")
	}
	return fmt.Errorf("client certificate refused: %w", firstErr)
}
