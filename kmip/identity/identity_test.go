package identity_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// recorder keeps the audit events it is given.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) last() audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return audit.Event{}
	}
	return r.events[len(r.events)-1]
}

func parse(t testing.TB, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	require.NotNil(t, b)
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

func issue(t testing.TB, ca *certs.CA, cn string) *x509.Certificate {
	t.Helper()
	certPEM, _, err := ca.IssueClient(cn, certs.KeyTypeECDSA)
	require.NoError(t, err)
	return parse(t, certPEM)
}

// serverOnly is a certificate whose Extended Key Usage is serverAuth
// only, as vCenter 6.5's self-signed client certificates are.
func serverOnly(t testing.TB, ca *certs.CA, cn string) *x509.Certificate {
	t.Helper()
	certPEM, _, err := ca.IssueServer([]string{cn}, certs.KeyTypeECDSA)
	require.NoError(t, err)
	return parse(t, certPEM)
}

type fixture struct {
	st      *bbolt.Store
	id      *identity.Identity
	audit   *recorder
	ca      *certs.CA
	vmca    *certs.CA
	a1      *x509.Certificate
	vc      *x509.Certificate
	oldVC   *x509.Certificate
	vmcaInA *x509.Certificate
}

func state(c *x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
}

func newFixture(t testing.TB, mode string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{st: st, audit: &recorder{}}
	f.ca, err = certs.NewCA("adapter CA", certs.KeyTypeECDSA)
	require.NoError(t, err)
	f.vmca, err = certs.NewCA("VMCA", certs.KeyTypeECDSA)
	require.NoError(t, err)
	f.a1 = issue(t, f.ca, "a1")
	f.vc = issue(t, f.vmca, "vcenter")
	f.oldVC = serverOnly(t, f.ca, "old-vcenter")
	f.vmcaInA = issue(t, f.vmca, "sneaky")

	put := func(id string, s store.TenantSettings) {
		require.NoError(t, st.PutTenant(ctx, &store.Tenant{ID: id, Backend: "pkcs11", TenantSettings: s}))
	}
	if mode != "empty" {
		put("a", store.TenantSettings{Status: store.TenantEnabled, Policy: store.TenantPolicy{AllowedOperations: []string{"Get", "Discover Versions"}}})
		put("b", store.TenantSettings{Status: store.TenantEnabled, TrustedCAs: []string{string(f.vmca.CertPEM())}, Policy: store.TenantPolicy{ActivateOnCreate: true}})
		put("off", store.TenantSettings{Status: store.TenantDisabled})
		put("legacy-eku", store.TenantSettings{Status: store.TenantEnabled, Policy: store.TenantPolicy{AllowNoClientAuthEKU: true}})
		for _, c := range []*store.Client{
			{TenantID: "a", Name: "a1", Enabled: true, Fingerprint: server.Fingerprint(f.a1)},
			{TenantID: "a", Name: "sneaky", Enabled: true, Fingerprint: server.Fingerprint(f.vmcaInA)},
			{TenantID: "a", Name: "old", Enabled: false, Match: store.MatchRule{SubjectCN: "disabled-one"}},
			{TenantID: "b", Name: "vcenter", Enabled: true, Match: store.MatchRule{SubjectCN: "VCENTER", Issuer: "CN=VMCA"}},
			{TenantID: "off", Name: "c1", Enabled: true, Match: store.MatchRule{SubjectCN: "c1"}},
			{TenantID: "legacy-eku", Name: "old-vc", Enabled: true, Match: store.MatchRule{SAN: "old-vcenter"}},
		} {
			require.NoError(t, st.PutClient(ctx, c))
		}
	}
	f.id, err = identity.New(ctx, identity.Options{
		Registry: st, Server: config.Server{Tenant: "default"}, Audit: f.audit, Log: zerolog.Nop(),
	})
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(parse(t, f.ca.CertPEM()))
	f.id.TLSConfig(&tls.Config{ClientCAs: pool})
	return f
}

func TestIdentify(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	require.True(t, f.id.RegistryMode())
	ok := []struct {
		name       string
		cert       *x509.Certificate
		tenant     string
		client     string
		activate   bool
		restricted bool
	}{
		{"by fingerprint", f.a1, "a", "a1", false, true},
		{"by rule, from the tenant's own CA", f.vc, "b", "vcenter", true, false},
		{"without clientAuth, in a tenant that accepts it", f.oldVC, "legacy-eku", "old-vc", false, false},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.id.Identify(ctx, state(tt.cert), "192.0.2.1:4000")
			require.NoError(t, err)
			assert.Equal(t, tt.tenant, c.Tenant)
			assert.Equal(t, tt.client, c.Name)
			assert.Equal(t, tt.activate, c.Policy.ActivateOnCreate)
			assert.Equal(t, tt.restricted, c.Policy.AllowedOperations != nil)
			if tt.restricted {
				assert.True(t, c.Policy.AllowedOperations[kmip20.OperationDiscoverVersions])
				assert.False(t, c.Policy.AllowedOperations[kmip20.OperationDestroy])
			}
		})
	}

	refused := []struct {
		name string
		cert *x509.Certificate
		why  string
	}{
		{"unregistered", issue(t, f.ca, "stranger"), "not registered"},
		{"disabled client", issue(t, f.ca, "disabled-one"), "client is disabled"},
		{"disabled tenant", issue(t, f.ca, "c1"), "tenant is disabled"},
		{"another tenant's CA", f.vmcaInA, `not trusted for tenant "a"`},
		{"rule on the issuer holds only for that issuer", issue(t, f.ca, "vcenter"), "not registered"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.id.Identify(ctx, state(tt.cert), "192.0.2.1:4000")
			var me *message.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful, me.Reason)
			assert.Contains(t, me.Message, tt.why)
			ev := f.audit.last()
			assert.Equal(t, audit.SourceAuth, ev.Source)
			assert.Equal(t, server.Fingerprint(tt.cert), ev.Fingerprint)
			assert.Equal(t, "192.0.2.1:4000", ev.Remote)
			assert.Contains(t, ev.Reason, tt.why)
			assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful.String(), ev.Result)
		})
	}
}

func TestChangesApplyAtOnce(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	stranger := issue(t, f.ca, "stranger")
	_, err := f.id.Identify(ctx, state(stranger), "")
	require.Error(t, err)

	require.NoError(t, f.st.PutClient(ctx, &store.Client{TenantID: "a", Name: "new", Enabled: true, Fingerprint: server.Fingerprint(stranger)}))
	require.NoError(t, f.id.Invalidate(ctx))
	c, err := f.id.Identify(ctx, state(stranger), "")
	require.NoError(t, err)
	assert.Equal(t, "a", c.Tenant)

	require.NoError(t, c.Authenticate(ctx, nil), "a registered client's requests pass")
	require.NoError(t, f.st.DeleteClient(ctx, "a", "new"))
	require.NoError(t, f.id.Invalidate(ctx))
	_, err = f.id.Identify(ctx, state(stranger), "")
	require.Error(t, err)
	err = c.Authenticate(ctx, nil)
	var me *message.Error
	require.ErrorAs(t, err, &me, "the open connection's next request is refused too")
	assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful, me.Reason)

	// Run picks up a change made by another process through the serial.
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	id2, err := identity.New(ctx, identity.Options{Registry: f.st, Log: zerolog.Nop(), Poll: 10_000_000}) // 10ms
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(parse(t, f.ca.CertPEM()))
	id2.TLSConfig(&tls.Config{ClientCAs: pool})
	go id2.Run(pollCtx)
	require.NoError(t, f.st.PutClient(ctx, &store.Client{TenantID: "a", Name: "new", Enabled: true, Fingerprint: server.Fingerprint(stranger)}))
	require.Eventually(t, func() bool {
		c, err := id2.Identify(ctx, state(stranger), "")
		return err == nil && c.Tenant == "a"
	}, 2e9, 1e7)

	// Disabling the tenant refuses its open connections' requests.
	a1, err := f.id.Identify(ctx, state(f.a1), "")
	require.NoError(t, err)
	tn, err := f.st.GetTenant(ctx, "a")
	require.NoError(t, err)
	tn.Status = store.TenantDisabled
	require.NoError(t, f.st.PutTenant(ctx, tn))
	require.NoError(t, f.id.Invalidate(ctx))
	require.ErrorContains(t, a1.Authenticate(ctx, nil), "tenant is disabled")
}

func TestConfiguredIdentityUntilTheRegistryIsUsed(t *testing.T) {
	f := newFixture(t, "empty")
	ctx := context.Background()
	require.False(t, f.id.RegistryMode())
	anyone := issue(t, f.ca, "anyone")
	c, err := f.id.Identify(ctx, state(anyone), "")
	require.NoError(t, err)
	assert.Equal(t, "default", c.Tenant)
	require.NoError(t, c.Authenticate(ctx, nil))

	// Another node makes the first tenant: the next connection here sees
	// it, without waiting for a poll or an Invalidate.
	require.NoError(t, f.st.PutTenant(ctx, &store.Tenant{ID: "t", Backend: "pkcs11", TenantSettings: store.TenantSettings{Status: store.TenantEnabled}}))
	_, err = f.id.Identify(ctx, state(anyone), "")
	require.ErrorContains(t, err, "is not registered")
	assert.True(t, f.id.RegistryMode())
	require.ErrorContains(t, c.Authenticate(ctx, nil), "reconnect", "the connection opened before is refused at its next request")
}

func TestHandshakeVerification(t *testing.T) {
	f := newFixture(t, "")
	other, err := certs.NewCA("nobody trusts me", certs.KeyTypeECDSA)
	require.NoError(t, err)
	empty := newFixture(t, "empty")

	tests := []struct {
		name string
		f    *fixture
		cert *x509.Certificate
		ok   bool
	}{
		{"server CA", f, f.a1, true},
		{"a tenant's CA in registry mode", f, f.vc, true},
		{"a tenant's CA is nothing before the registry is used", empty, issue(t, f.vmca, "x"), false},
		{"untrusted CA", f, issue(t, other, "x"), false},
		{"no clientAuth while a tenant accepts it", f, f.oldVC, true},
		{"no clientAuth in configured mode", empty, serverOnly(t, empty.ca, "x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := x509.NewCertPool()
			pool.AddCert(parse(t, tt.f.ca.CertPEM()))
			cfg := tt.f.id.TLSConfig(&tls.Config{ClientCAs: pool})
			assert.Equal(t, tls.RequireAnyClientCert, cfg.ClientAuth)
			err := cfg.VerifyConnection(state(tt.cert))
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			perConn, cerr := cfg.GetConfigForClient(&tls.ClientHelloInfo{Conn: a})
			require.NoError(t, cerr)
			before := len(tt.f.audit.events)
			perConnErr := perConn.VerifyConnection(state(tt.cert))
			if tt.ok {
				assert.NoError(t, err)
				assert.NoError(t, perConnErr)
				assert.Len(t, tt.f.audit.events, before)
				return
			}
			assert.Error(t, err)
			assert.Error(t, perConnErr)
			require.Len(t, tt.f.audit.events, before+1, "a refusal at the handshake is audited")
			ev := tt.f.audit.last()
			assert.Equal(t, "handshake", ev.Operation)
			assert.Equal(t, server.Fingerprint(tt.cert), ev.Fingerprint)
			assert.Equal(t, "pipe", ev.Remote)
		})
	}
}

// authTTLV is a request header's Authentication with a Username and
// Password credential, as a client encodes it.
func authTTLV(t *testing.T, user, pass string) ttlv.TTLV {
	t.Helper()
	type value struct {
		TTLVTag  struct{} `ttlv:"CredentialValue"`
		Username string
		Password string
	}
	type cred struct {
		TTLVTag         struct{} `ttlv:"Credential"`
		CredentialType  kmip14.CredentialType
		CredentialValue value
	}
	type auth struct {
		TTLVTag    struct{} `ttlv:"Authentication"`
		Credential cred
	}
	b, err := ttlv.Marshal(auth{Credential: cred{CredentialType: kmip14.CredentialTypeUsernameAndPassword, CredentialValue: value{Username: user, Password: pass}}})
	require.NoError(t, err)
	return b
}

func TestCredential(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	hash, err := identity.HashPassword("s3cret")
	require.NoError(t, err)
	tn, err := f.st.GetTenant(ctx, "a")
	require.NoError(t, err)
	tn.Policy.RequireCredential = true
	require.NoError(t, f.st.PutTenant(ctx, tn))
	cl, err := f.st.GetClient(ctx, "a", "a1")
	require.NoError(t, err)
	cl.Credential = &store.Credential{Username: "vc", Hash: hash}
	require.NoError(t, f.st.PutClient(ctx, cl))
	require.NoError(t, f.id.Invalidate(ctx))

	c, err := f.id.Identify(ctx, state(f.a1), "")
	require.NoError(t, err)
	require.NotNil(t, c.Authenticate)
	for _, tt := range []struct {
		name string
		auth ttlv.TTLV
		why  string
	}{
		{"none", nil, "requires a KMIP Credential"},
		{"wrong password", authTTLV(t, "vc", "guess"), "wrong username or password"},
		{"wrong username", authTTLV(t, "root", "s3cret"), "wrong username or password"},
		{"right", authTTLV(t, "vc", "s3cret"), ""},
		{"right again (remembered)", authTTLV(t, "vc", "s3cret"), ""},
		{"wrong after right", authTTLV(t, "vc", "s3cret2"), "wrong username or password"},
		{"the fourth wrong one ends the guessing", authTTLV(t, "vc", "s3cret3"), "too many wrong credentials"},
		{"the right one it already proved still passes", authTTLV(t, "vc", "s3cret"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Authenticate(ctx, tt.auth)
			if tt.why == "" {
				require.NoError(t, err)
				return
			}
			var me *message.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, kmip20.ResultReasonAuthenticationNotSuccessful, me.Reason)
			assert.Contains(t, me.Message, tt.why)
			assert.Equal(t, "credential", f.audit.last().Operation)
			assert.NotContains(t, f.audit.last().Reason, "guess", "never a password in the audit trail")
		})
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := identity.HashPassword("pw")
	require.NoError(t, err)
	h2, err := identity.HashPassword("pw")
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "salted")
	assert.Contains(t, h, "pbkdf2-sha256$600000$")
	assert.True(t, identity.CheckPassword(h, "pw"))
	assert.False(t, identity.CheckPassword(h, "pw "))
	for _, bad := range []string{"", "pbkdf2-sha256$x$y$z", "md5$1$c2FsdA$a2V5", h[:len(h)-4]} {
		assert.False(t, identity.CheckPassword(bad, "pw"), bad)
	}
}

func TestParseOperations(t *testing.T) {
	m, err := identity.ParseOperations([]string{"Get", "Discover Versions", "locate", "GetAttributes"})
	require.NoError(t, err)
	assert.Len(t, m, 4)
	assert.True(t, m[kmip20.OperationLocate])
	_, err = identity.ParseOperations([]string{"Teleport"})
	assert.Error(t, err)
}
