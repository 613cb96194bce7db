package admin_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

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
	return r.events[len(r.events)-1]
}

type fixture struct {
	api   *admin.API
	st    *bbolt.Store
	audit *recorder
	id    *identity.Identity
}

func newFixture(t *testing.T, issuer *certs.CA) *fixture {
	t.Helper()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	svc := ops.New(ops.Deps{Store: st, Backend: knownRoots{kmiptest.NewSoftBackend()}, BackendType: "pkcs11", Log: zerolog.Nop()})
	id, err := identity.New(context.Background(), identity.Options{Registry: st, Log: zerolog.Nop()})
	require.NoError(t, err)
	rec := &recorder{}
	api := admin.New(admin.Deps{Store: st, Registry: st, Tenants: svc, Identity: id, BackendTypes: []string{"pkcs11"},
		Issuer: issuer, ServerCAPEM: []byte("-----BEGIN CERTIFICATE-----\n"), Audit: rec, Log: zerolog.Nop()})
	return &fixture{api: api, st: st, audit: rec, id: id}
}

// knownRoots is the soft backend (all its optional interfaces kept), its
// root of trust having the tenant roots "root-a" and "root-b" besides its
// default one.
type knownRoots struct{ *kmiptest.SoftBackend }

func (k knownRoots) NewTenantKey(ctx context.Context, tenantID string) (backend.TenantKey, error) {
	if root := backend.TenantRootFrom(ctx); root != "" && root != "root-a" && root != "root-b" {
		return backend.TenantKey{}, fmt.Errorf("tenant %q: root key %s is unknown: %w", tenantID, root, backend.ErrKeyMissing)
	}
	return k.SoftBackend.NewTenantKey(ctx, tenantID)
}

// call sends a request as the operator "CN=alice".
func (f *fixture) call(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		b, err = json.Marshal(body)
		require.NoError(t, err)
	}
	r := httptest.NewRequest(method, path, bytes.NewReader(b))
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte("operator"), Subject: pkix.Name{CommonName: "alice"}}}}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestTenantLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	code, body := f.call(t, "POST", "/v1/tenants", admin.TenantCreate{Name: "alpha", Policy: store.TenantPolicy{ActivateOnCreate: true}})
	require.Equal(t, http.StatusCreated, code, body)
	ev := f.audit.last()
	assert.Equal(t, audit.SourceAdmin, ev.Source)
	assert.Equal(t, "tenant.create", ev.Operation)
	assert.Equal(t, "alpha", ev.Tenant)
	assert.Equal(t, "CN=alice", ev.Client)
	assert.Equal(t, "success", ev.Result)
	tn, err := f.st.GetTenant(ctx, "alpha")
	require.NoError(t, err)
	assert.NotEmpty(t, tn.KeyBlob, "the tenant's KEK is made at creation")
	assert.Equal(t, store.TenantEnabled, tn.Status)
	assert.True(t, f.id.RegistryMode(), "the identity cache reloaded at once")

	for _, tt := range []struct {
		name string
		in   admin.TenantCreate
		code int
	}{
		{"exists", admin.TenantCreate{Name: "alpha"}, http.StatusConflict},
		{"bad name", admin.TenantCreate{Name: "../etc"}, http.StatusBadRequest},
		{"unknown backend", admin.TenantCreate{Name: "b", Backend: "hpcs"}, http.StatusBadRequest},
		{"unknown operation", admin.TenantCreate{Name: "b", Policy: store.TenantPolicy{AllowedOperations: []string{"Teleport"}}}, http.StatusBadRequest},
		{"unknown root", admin.TenantCreate{Name: "b", Root: "root-z"}, http.StatusBadRequest},
	} {
		code, body := f.call(t, "POST", "/v1/tenants", tt.in)
		assert.Equal(t, tt.code, code, "%s: %s", tt.name, body)
		assert.NotEqual(t, "success", f.audit.last().Result, tt.name)
	}

	code, body = f.call(t, "POST", "/v1/tenants", admin.TenantCreate{Name: "b", Root: "root-z"})
	require.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, `tenant \"b\": root key root-z is unknown`, "the operator learns which key the root of trust lacks")
	code, body = f.call(t, "POST", "/v1/tenants", admin.TenantCreate{Name: "b", Root: "root-b"})
	require.Equal(t, http.StatusCreated, code, body)
	assert.Contains(t, body, `"root":"root-b"`)

	// Disable, then delete: refused while an object is Active.
	disabled := store.TenantDisabled
	code, body = f.call(t, "PATCH", "/v1/tenants/alpha", admin.TenantUpdate{Status: &disabled})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"status":"disabled"`)
	require.NoError(t, f.st.CreateObject(ctx, &store.Object{TenantID: "alpha", ID: "k1", ObjectType: 2, State: uint32(kmip14.StateActive)}))
	require.NoError(t, f.st.CreateObject(ctx, &store.Object{TenantID: "alpha", ID: "k2", ObjectType: 2, State: uint32(kmip14.StatePreActive)}))
	code, body = f.call(t, "DELETE", "/v1/tenants/alpha", nil)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "1 Active objects")
	o, err := f.st.GetObject(ctx, "alpha", "k1")
	require.NoError(t, err)
	o.State = uint32(kmip14.StateDeactivated)
	require.NoError(t, f.st.UpdateObject(ctx, o))
	code, body = f.call(t, "DELETE", "/v1/tenants/alpha", nil)
	require.Equal(t, http.StatusNoContent, code, body)
	_, err = f.st.GetTenant(ctx, "alpha")
	assert.ErrorIs(t, err, store.ErrNotFound)
	n, err := f.st.CountObjects(ctx, store.ListQuery{TenantID: "alpha"})
	require.NoError(t, err)
	assert.Zero(t, n, "the tenant's objects went with it")
	assert.Equal(t, "tenant.delete", f.audit.last().Operation)
}

func TestClients(t *testing.T) {
	ca, err := certs.NewCA("issuer", certs.KeyTypeECDSA)
	require.NoError(t, err)
	f := newFixture(t, ca)
	code, body := f.call(t, "POST", "/v1/tenants", admin.TenantCreate{Name: "alpha"})
	require.Equal(t, http.StatusCreated, code, body)
	fp := "sha256:" + strings.Repeat("ab", 32)
	for _, tt := range []struct {
		name string
		in   admin.ClientCreate
		code int
	}{
		{"fingerprint", admin.ClientCreate{Name: "c1", Fingerprint: strings.ToUpper(strings.Repeat("AB:", 31) + "AB")}, http.StatusCreated},
		{"same fingerprint again", admin.ClientCreate{Name: "c2", Fingerprint: fp}, http.StatusConflict},
		{"rule", admin.ClientCreate{Name: "vc", Match: store.MatchRule{SubjectCN: "vcenter"}, Username: "u", Password: "hunter2"}, http.StatusCreated},
		{"both", admin.ClientCreate{Name: "x", Fingerprint: fp, Match: store.MatchRule{SAN: "a"}}, http.StatusBadRequest},
		{"neither", admin.ClientCreate{Name: "x"}, http.StatusBadRequest},
		{"bad fingerprint", admin.ClientCreate{Name: "x", Fingerprint: "sha1:00"}, http.StatusBadRequest},
		{"username without password", admin.ClientCreate{Name: "x", Match: store.MatchRule{SAN: "a"}, Username: "u"}, http.StatusBadRequest},
	} {
		code, body := f.call(t, "POST", "/v1/tenants/alpha/clients", tt.in)
		assert.Equal(t, tt.code, code, "%s: %s", tt.name, body)
		assert.NotContains(t, body, "hunter2")
		assert.NotContains(t, f.audit.last().Reason, "hunter2")
	}
	c, err := f.st.GetClient(context.Background(), "alpha", "c1")
	require.NoError(t, err)
	assert.Equal(t, fp, c.Fingerprint, "fingerprints are kept in one form")
	vc, err := f.st.GetClient(context.Background(), "alpha", "vc")
	require.NoError(t, err)
	require.NotNil(t, vc.Credential)
	assert.True(t, identity.CheckPassword(vc.Credential.Hash, "hunter2"))
	assert.NotContains(t, vc.Credential.Hash, "hunter2")

	code, body = f.call(t, "GET", "/v1/clients?tenant=alpha", nil)
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "pbkdf2", "the hash is never shown")
	assert.Contains(t, body, `"username":"u"`)

	code, body = f.call(t, "POST", "/v1/tenants/alpha/clients/csr1/certificate", admin.SignRequest{CSRPEM: "garbage"})
	assert.Equal(t, http.StatusBadRequest, code, body)
	code, _ = f.call(t, "POST", "/v1/tenants/nobody/clients", admin.ClientCreate{Name: "x", Fingerprint: strings.Repeat("cd", 32)})
	assert.Equal(t, http.StatusNotFound, code)

	code, _ = f.call(t, "DELETE", "/v1/tenants/alpha/clients/c1", nil)
	assert.Equal(t, http.StatusNoContent, code)
	assert.Equal(t, "alpha/c1", f.audit.last().UniqueID)
	code, _ = f.call(t, "DELETE", "/v1/tenants/alpha/clients/c1", nil)
	assert.Equal(t, http.StatusNotFound, code)
}

func TestNoIssuer(t *testing.T) {
	f := newFixture(t, nil)
	f.call(t, "POST", "/v1/tenants", admin.TenantCreate{Name: "alpha"})
	code, body := f.call(t, "POST", "/v1/tenants/alpha/clients/c/certificate", admin.SignRequest{CSRPEM: "x"})
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "admin.issuer_cert_file")
}

// TestInternalTenantsNotListed: the store's internal tenants (the record
// MAC key's "_recordkey") are not operators' tenants: the list leaves
// them out.
func TestInternalTenantsNotListed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	require.NoError(t, f.st.PutTenant(ctx, &store.Tenant{ID: ops.RecordKeyTenant, Backend: "pkcs11", KeyBlob: []byte("blob")}))
	code, body := f.call(t, "POST", "/v1/tenants", admin.TenantCreate{Name: "alpha"})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = f.call(t, "GET", "/v1/tenants", nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"name":"alpha"`)
	assert.NotContains(t, body, ops.RecordKeyTenant)
}
