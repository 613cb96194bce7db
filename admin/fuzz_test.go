package admin_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// adminRoutes are the API's routes with {tenant} and {client} left to
// the fuzzer.
var adminRoutes = []struct{ method, path string }{
	{"GET", "/v1/tenants"},
	{"POST", "/v1/tenants"},
	{"GET", "/v1/tenants/{tenant}"},
	{"PATCH", "/v1/tenants/{tenant}"},
	{"DELETE", "/v1/tenants/{tenant}"},
	{"POST", "/v1/tenants/{tenant}/trusted-cas"},
	{"GET", "/v1/clients"},
	{"POST", "/v1/tenants/{tenant}/clients"},
	{"PATCH", "/v1/tenants/{tenant}/clients/{client}"},
	{"DELETE", "/v1/tenants/{tenant}/clients/{client}"},
	{"POST", "/v1/tenants/{tenant}/clients/{client}/certificate"},
	{"GET", "/v1/ca"},
}

// FuzzAdminAPI sends the API (an operator's request: the TLS layer has
// admitted it) any body to any route with any tenant and client names,
// over a real store, registry and CA, one state carried across inputs as
// a long-running server's is. It must never panic nor answer a server
// error, and every answer is JSON (an error has its "error").
func FuzzAdminAPI(f *testing.F) {
	st, err := bbolt.Open(filepath.Join(f.TempDir(), "store.db"))
	require.NoError(f, err)
	f.Cleanup(func() { _ = st.Close() })
	svc := ops.New(ops.Deps{Store: st, Backend: kmiptest.NewSoftBackend(), BackendType: "pkcs11", Log: zerolog.Nop()})
	id, err := identity.New(context.Background(), identity.Options{Registry: st, Log: zerolog.Nop()})
	require.NoError(f, err)
	issuer, err := certs.NewCA("fuzz issuer", certs.KeyTypeECDSA)
	require.NoError(f, err)
	api := admin.New(admin.Deps{Store: st, Registry: st, Tenants: svc, Identity: id, BackendTypes: []string{"pkcs11"},
		Issuer: issuer, ServerCAPEM: issuer.CertPEM(), Log: zerolog.Nop()})
	operator := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte("operator"), Subject: pkix.Name{CommonName: "alice"}}}}

	client, key, err := issuer.IssueClient("fuzz-client", certs.KeyTypeECDSA)
	require.NoError(f, err)
	_ = key
	seed := func(route int, tenant, clientName string, body any) {
		b, _ := json.Marshal(body)
		f.Add(uint8(route), tenant, clientName, b)
	}
	seed(1, "", "", map[string]any{"name": "alpha", "policy": map[string]any{"activate_on_create": true}})
	seed(1, "", "", map[string]any{"name": "beta", "backend": "hpcs", "root": "x", "disabled": true})
	seed(3, "alpha", "", map[string]any{"status": "disabled", "allowed_operations": []string{"Get", "Nope"}})
	seed(5, "alpha", "", map[string]any{"pem": string(issuer.CertPEM())})
	seed(5, "alpha", "", map[string]any{"pem": string(client)})
	seed(7, "alpha", "", map[string]any{"name": "c1", "certificate_pem": string(client), "username": "u", "password": "p"})
	seed(7, "alpha", "", map[string]any{"name": "c2", "fingerprint": "sha256:00", "match": map[string]any{"subject_cn": "x"}})
	seed(8, "alpha", "c1", map[string]any{"enabled": false, "username": ""})
	seed(10, "alpha", "c3", map[string]any{"pem": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"})
	seed(4, "alpha", "", nil)
	f.Add(uint8(1), "", "", []byte(`{"name":"a","policy":{"allowed_operations":null}}{"trailing":1}`))
	f.Add(uint8(7), "alpha", "", []byte(`{"name":"`+strings.Repeat("x", 70)+`"}`))

	f.Fuzz(func(t *testing.T, route uint8, tenant, clientName string, body []byte) {
		r := adminRoutes[int(route)%len(adminRoutes)]
		path := strings.NewReplacer("{tenant}", escapePath(tenant), "{client}", escapePath(clientName)).Replace(r.path)
		req := httptest.NewRequest(r.method, "http://admin"+path, bytes.NewReader(body))
		req.TLS = operator
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			api.ServeHTTP(w, req)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<16)
			t.Fatalf("%s %s %q: no answer within 5s; goroutines:\n%s", r.method, path, body, buf[:runtime.Stack(buf, true)])
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: server error %d: %s", r.method, path, body, w.Code, w.Body.String())
		}
		if w.Header().Get("Content-Type") != "application/json" {
			switch w.Code {
			case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
				return // the router's own answer: no route, or a path to clean
			}
		}
		if w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: %d answer is not JSON: %q", r.method, path, w.Code, w.Body.String())
		}
		if w.Code >= 400 {
			var e admin.Error
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%s %s: %d without an error: %q", r.method, path, w.Code, w.Body.String())
			}
		}
	})
}

// escapePath keeps a fuzzed name inside its path segment.
func escapePath(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}
