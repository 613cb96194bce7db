package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// TenantMaker makes a tenant with its KEK, and forgets a deleted one;
// *ops.Service is the real one.
type TenantMaker interface {
	CreateTenant(ctx context.Context, id, backendType string, settings store.TenantSettings) (*store.Tenant, error)
	ForgetTenant(id string)
}

// Invalidator reloads the identity cache; *identity.Identity is the real
// one.
type Invalidator interface {
	Invalidate(ctx context.Context) error
}

// Deps are what the admin API works with.
type Deps struct {
	Store    store.Store
	Registry store.Registry
	Tenants  TenantMaker
	Identity Invalidator
	// BackendTypes are the roots of trust this server opens (backend.types,
	// or backend.type alone); a new tenant may be on any of them.
	BackendTypes []string
	// Issuer certifies clients (nil: client certificates cannot be
	// issued here).
	Issuer *certs.CA
	// ServerCAPEM is what `ca export` hands out: the certificate KMIP
	// clients trust the server with.
	ServerCAPEM []byte
	Audit       audit.Recorder
	Log         zerolog.Logger
	Now         func() time.Time
}

// API serves the admin routes.
type API struct {
	d   Deps
	mux *http.ServeMux
}

// New builds the admin API handler.
func New(d Deps) *API {
	if d.Audit == nil {
		d.Audit = audit.Nop{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	a := &API{d: d, mux: http.NewServeMux()}
	routes := []struct {
		pattern, action string
		h               func(w http.ResponseWriter, r *http.Request) error
	}{
		{"GET /v1/tenants", "", a.listTenants},
		{"POST /v1/tenants", "tenant.create", a.createTenant},
		{"GET /v1/tenants/{tenant}", "", a.showTenant},
		{"PATCH /v1/tenants/{tenant}", "tenant.update", a.updateTenant},
		{"DELETE /v1/tenants/{tenant}", "tenant.delete", a.deleteTenant},
		{"POST /v1/tenants/{tenant}/trusted-cas", "tenant.trust_ca", a.trustCA},
		{"GET /v1/clients", "", a.listClients},
		{"POST /v1/tenants/{tenant}/clients", "client.add", a.addClient},
		{"PATCH /v1/tenants/{tenant}/clients/{client}", "client.update", a.updateClient},
		{"DELETE /v1/tenants/{tenant}/clients/{client}", "client.remove", a.removeClient},
		{"POST /v1/tenants/{tenant}/clients/{client}/certificate", "client.sign", a.signClient},
		{"GET /v1/ca", "ca.export", a.exportCA},
	}
	for _, rt := range routes {
		a.mux.HandleFunc(rt.pattern, a.wrap(rt.action, rt.h))
	}
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// statusWriter remembers the status a handler wrote, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// httpError is an error with the status the operator gets.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// wrap decodes nothing and encodes errors; for actions (changes, and the
// CA export) it records an audit event with the operator and the outcome.
func (a *API) wrap(action string, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		err := h(sw, r)
		status := sw.status
		if err != nil {
			status = a.writeError(w, r, err)
		}
		if action == "" {
			return
		}
		ev := audit.Event{
			Time: a.d.Now().UTC(), Source: audit.SourceAdmin, Operation: action,
			Tenant: r.PathValue("tenant"), Remote: r.RemoteAddr, Result: "success",
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			ev.Client = r.TLS.PeerCertificates[0].Subject.String()
			ev.Fingerprint = server.Fingerprint(r.TLS.PeerCertificates[0])
		}
		ev.UniqueID = ev.Tenant
		if c := r.PathValue("client"); c != "" {
			ev.UniqueID = ev.Tenant + "/" + c
		}
		if err != nil {
			ev.Result = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
			ev.Reason = err.Error()
		}
		if aerr := a.d.Audit.Record(r.Context(), ev); aerr != nil {
			a.d.Log.Error().Err(aerr).Str("action", action).Msg("audit record of an admin action failed")
		}
		a.d.Log.Info().Str("action", action).Str("operator", ev.Client).Str("target", ev.UniqueID).Int("status", status).Msg("admin")
	}
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	status := http.StatusInternalServerError
	msg := "internal error; see the server log"
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, "request body over 1 MiB"
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrExists):
		status, msg = http.StatusConflict, "already exists"
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, "changed concurrently; retry"
	case errors.Is(err, store.ErrUnavailable):
		status, msg = http.StatusServiceUnavailable, "store unavailable; retry later"
	}
	if status >= 500 {
		a.d.Log.Error().Err(err).Str("path", r.URL.Path).Msg("admin call failed")
	}
	writeJSON(w, status, Error{Error: msg})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "request body: %v", err)
	}
	return nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return errorf(http.StatusBadRequest, "%s name %q: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, name)
	}
	return nil
}

func (a *API) tenantView(ctx context.Context, t *store.Tenant) (Tenant, error) {
	v := Tenant{Name: t.ID, Backend: t.Backend, Root: t.Root, Status: t.Status, Policy: t.Policy, CreatedAt: t.CreatedAt}
	if v.Status == "" {
		v.Status = "unmanaged"
	}
	for _, p := range t.TrustedCAs {
		cs, err := identity.ParseCertificates([]byte(p))
		if err != nil {
			continue
		}
		for _, c := range cs {
			v.TrustedCAs = append(v.TrustedCAs, CAInfo{Subject: c.Subject.String(), Fingerprint: server.Fingerprint(c), NotAfter: c.NotAfter.UTC()})
		}
	}
	var err error
	if v.Objects, err = a.d.Store.CountObjects(ctx, store.ListQuery{TenantID: t.ID}); err != nil {
		return v, err
	}
	if v.ActiveObjects, err = a.d.Store.CountObjects(ctx, store.ListQuery{TenantID: t.ID, State: uint32(kmip14.StateActive)}); err != nil {
		return v, err
	}
	clients, err := a.d.Registry.ListClients(ctx, t.ID)
	v.Clients = len(clients)
	return v, err
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.d.Registry.ListTenants(r.Context())
	if err != nil {
		return err
	}
	out := []Tenant{}
	for _, t := range ts {
		if audit.IsReservedTenant(t.ID) {
			continue // an internal tenant (the record MAC key's, kmip/ops recordkey.go): no operator's
		}
		v, err := a.tenantView(r.Context(), t)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getTenant(ctx context.Context, name string) (*store.Tenant, error) {
	t, err := a.d.Store.GetTenant(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "tenant %q not found", name)
	}
	return t, err
}

func (a *API) showTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.getTenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	return a.writeTenant(w, r, http.StatusOK, t)
}

// writeTenant answers with the tenant as the API shows it.
func (a *API) writeTenant(w http.ResponseWriter, r *http.Request, status int, t *store.Tenant) error {
	v, err := a.tenantView(r.Context(), t)
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func checkPolicy(p store.TenantPolicy) error {
	if len(p.AllowedOperations) > 0 {
		if _, err := identity.ParseOperations(p.AllowedOperations); err != nil {
			return errorf(http.StatusBadRequest, "allowed operations: %v", err)
		}
	}
	return nil
}

// changed reloads the identity cache after a change, so that it applies
// to the next connection.
func (a *API) changed(ctx context.Context) error {
	if a.d.Identity == nil {
		return nil
	}
	if err := a.d.Identity.Invalidate(ctx); err != nil {
		return fmt.Errorf("the change is stored but the identity cache did not reload (it will within the refresh interval): %w", err)
	}
	return nil
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in TenantCreate
	if err := readJSON(r, &in); err != nil {
		return err
	}
	r.SetPathValue("tenant", in.Name) // for the audit event
	if err := checkName("tenant", in.Name); err != nil {
		return err
	}
	if in.Backend != "" && !slices.Contains(a.d.BackendTypes, in.Backend) {
		return errorf(http.StatusBadRequest, "backend %q is not configured on this server (backend.types: %s)", in.Backend, strings.Join(a.d.BackendTypes, ", "))
	}
	if err := checkPolicy(in.Policy); err != nil {
		return err
	}
	if _, err := a.d.Store.GetTenant(r.Context(), in.Name); err == nil {
		return errorf(http.StatusConflict, "tenant %q exists (a tenant made on first use is taken over with `tenant enable`)", in.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	settings := store.TenantSettings{Status: store.TenantEnabled, Root: in.Root, Policy: in.Policy}
	if in.Disabled {
		settings.Status = store.TenantDisabled
	}
	t, err := a.d.Tenants.CreateTenant(r.Context(), in.Name, in.Backend, settings)
	if errors.Is(err, store.ErrExists) {
		return errorf(http.StatusConflict, "tenant %q exists", in.Name)
	}
	if in.Root != "" && errors.Is(err, backend.ErrKeyMissing) {
		// The root of trust does not have the tenant's root (the error
		// names the tenant and the key, nothing secret).
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return err
	}
	if err := a.changed(r.Context()); err != nil {
		return err
	}
	return a.writeTenant(w, r, http.StatusCreated, t)
}

// updateTenantWith reads, changes and writes a tenant, retrying once on
// a concurrent change.
func (a *API) updateTenantWith(ctx context.Context, name string, change func(*store.Tenant) error) (*store.Tenant, error) {
	for attempt := 0; ; attempt++ {
		t, err := a.getTenant(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := change(t); err != nil {
			return nil, err
		}
		err = a.d.Store.PutTenant(ctx, t)
		if errors.Is(err, store.ErrConflict) && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return t, a.changed(ctx)
	}
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) error {
	var in TenantUpdate
	if err := readJSON(r, &in); err != nil {
		return err
	}
	t, err := a.updateTenantWith(r.Context(), r.PathValue("tenant"), func(t *store.Tenant) error {
		if in.Status != nil {
			switch *in.Status {
			case store.TenantEnabled, store.TenantDisabled:
				t.Status = *in.Status
			default:
				return errorf(http.StatusBadRequest, "status %q is not enabled or disabled", *in.Status)
			}
		}
		if t.Status == "" {
			return errorf(http.StatusConflict, "tenant %q was made on first use: enable it first to manage it", t.ID)
		}
		p := &t.Policy
		for _, f := range []struct {
			in  *bool
			out *bool
		}{{in.ActivateOnCreate, &p.ActivateOnCreate}, {in.AllowNoClientAuthEKU, &p.AllowNoClientAuthEKU}, {in.RequireCredential, &p.RequireCredential}} {
			if f.in != nil {
				*f.out = *f.in
			}
		}
		if in.AllowedOperations != nil {
			p.AllowedOperations = *in.AllowedOperations
		}
		return checkPolicy(*p)
	})
	if err != nil {
		return err
	}
	return a.writeTenant(w, r, http.StatusOK, t)
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("tenant")
	if _, err := a.getTenant(ctx, name); err != nil {
		return err
	}
	active, err := a.d.Store.CountObjects(ctx, store.ListQuery{TenantID: name, State: uint32(kmip14.StateActive)})
	if err != nil {
		return err
	}
	if active > 0 {
		return errorf(http.StatusConflict, "tenant %q holds %d Active objects: revoke or destroy them first", name, active)
	}
	// Its clients go first, so that none of them reaches objects being
	// removed; the remaining objects (never Active) go with the tenant,
	// whose KEK is dropped: what was sealed under it is unreadable.
	t, err := a.updateTenantWith(ctx, name, func(t *store.Tenant) error { t.Status = store.TenantDisabled; return nil })
	if err != nil {
		return err
	}
	for {
		objs, err := a.d.Store.ListObjects(ctx, store.ListQuery{TenantID: name, IDsOnly: true, Limit: 512})
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			break
		}
		for _, o := range objs {
			if err := a.d.Store.DeleteObject(ctx, name, o.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	if err := a.d.Registry.DeleteTenant(ctx, t.ID); err != nil {
		return err
	}
	a.d.Tenants.ForgetTenant(name)
	if err := a.changed(ctx); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) trustCA(w http.ResponseWriter, r *http.Request) error {
	var in TrustCA
	if err := readJSON(r, &in); err != nil {
		return err
	}
	cas, err := identity.ParseCertificates([]byte(in.PEM))
	if err != nil {
		return errorf(http.StatusBadRequest, "pem: %v", err)
	}
	for _, c := range cas {
		if !(c.BasicConstraintsValid && c.IsCA) && !selfSigned(c) {
			return errorf(http.StatusBadRequest, "%s is neither a CA certificate nor self-signed", c.Subject)
		}
		if time.Now().After(c.NotAfter) {
			return errorf(http.StatusBadRequest, "%s expired on %s", c.Subject, c.NotAfter.Format(time.DateOnly))
		}
	}
	t, err := a.updateTenantWith(r.Context(), r.PathValue("tenant"), func(t *store.Tenant) error {
		if t.Status == "" {
			return errorf(http.StatusConflict, "tenant %q was made on first use: enable it first to manage it", t.ID)
		}
		have := map[string]bool{}
		for _, p := range t.TrustedCAs {
			if cs, err := identity.ParseCertificates([]byte(p)); err == nil {
				for _, c := range cs {
					have[server.Fingerprint(c)] = true
				}
			}
		}
		for _, c := range cas {
			if !have[server.Fingerprint(c)] {
				t.TrustedCAs = append(t.TrustedCAs, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return a.writeTenant(w, r, http.StatusOK, t)
}

// selfSigned reports whether c signs itself: a client's self-signed
// certificate (older vCenters) is trusted as its own root.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func clientView(c *store.Client) Client {
	v := Client{Tenant: c.TenantID, Name: c.Name, Enabled: c.Enabled, Fingerprint: c.Fingerprint, Match: c.Match, CreatedAt: c.CreatedAt}
	if c.Credential != nil {
		v.Username = c.Credential.Username
	}
	return v
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.d.Registry.ListClients(r.Context(), r.URL.Query().Get("tenant"))
	if err != nil {
		return err
	}
	out := []Client{}
	for _, c := range cs {
		out = append(out, clientView(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// normalizeFingerprint accepts "sha256:HEX", bare HEX, and OpenSSL's
// colon-separated form.
func normalizeFingerprint(fp string) (string, error) {
	hex := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(fp, "sha256:"), "SHA256:"), ":", ""))
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", errorf(http.StatusBadRequest, "fingerprint %q is not a SHA-256 (64 hex digits, optionally sha256: or colon-separated)", fp)
	}
	return "sha256:" + hex, nil
}

func credential(username, password string) (*store.Credential, error) {
	if username == "" && password == "" {
		return nil, nil
	}
	if username == "" || password == "" {
		return nil, errorf(http.StatusBadRequest, "a credential needs both a username and a password")
	}
	h, err := identity.HashPassword(password)
	if err != nil {
		return nil, err
	}
	return &store.Credential{Username: username, Hash: h}, nil
}

func (a *API) putNewClient(ctx context.Context, c *store.Client) error {
	err := a.d.Registry.PutClient(ctx, c)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "tenant %q not found", c.TenantID)
	case errors.Is(err, store.ErrExists):
		return errorf(http.StatusConflict, "client %q exists in tenant %q, or its certificate is registered to another client", c.Name, c.TenantID)
	case err != nil:
		return err
	}
	return a.changed(ctx)
}

func (a *API) addClient(w http.ResponseWriter, r *http.Request) error {
	var in ClientCreate
	if err := readJSON(r, &in); err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	r.SetPathValue("client", in.Name)
	if err := checkName("client", in.Name); err != nil {
		return err
	}
	c := &store.Client{TenantID: tenant, Name: in.Name, Enabled: !in.Disabled, Match: in.Match}
	switch {
	case in.CertificatePEM != "":
		cs, err := identity.ParseCertificates([]byte(in.CertificatePEM))
		if err != nil {
			return errorf(http.StatusBadRequest, "certificate_pem: %v", err)
		}
		c.Fingerprint = server.Fingerprint(cs[0])
	case in.Fingerprint != "":
		fp, err := normalizeFingerprint(in.Fingerprint)
		if err != nil {
			return err
		}
		c.Fingerprint = fp
	}
	if (c.Fingerprint == "") == in.Match.IsZero() {
		return errorf(http.StatusBadRequest, "register a client by exactly one of: its certificate or fingerprint, or a match rule (subject CN, SAN, issuer)")
	}
	var err error
	if c.Credential, err = credential(in.Username, in.Password); err != nil {
		return err
	}
	if err := a.putNewClient(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, clientView(c))
	return nil
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request) error {
	var in ClientUpdate
	if err := readJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	c, err := a.d.Registry.GetClient(ctx, r.PathValue("tenant"), r.PathValue("client"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "client %q not found in tenant %q", r.PathValue("client"), r.PathValue("tenant"))
	}
	if err != nil {
		return err
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if in.Username != nil || in.Password != nil {
		var user, pass string
		if in.Username != nil {
			user = *in.Username
		} else if c.Credential != nil {
			user = c.Credential.Username
		}
		if in.Password != nil {
			pass = *in.Password
		}
		if pass == "" && user != "" && c.Credential != nil && in.Password == nil {
			c.Credential.Username = user
		} else if c.Credential, err = credential(user, pass); err != nil {
			return err
		}
	}
	if err := a.d.Registry.PutClient(ctx, c); err != nil {
		return err
	}
	if err := a.changed(ctx); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, clientView(c))
	return nil
}

func (a *API) removeClient(w http.ResponseWriter, r *http.Request) error {
	err := a.d.Registry.DeleteClient(r.Context(), r.PathValue("tenant"), r.PathValue("client"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "client %q not found in tenant %q", r.PathValue("client"), r.PathValue("tenant"))
	}
	if err != nil {
		return err
	}
	if err := a.changed(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) signClient(w http.ResponseWriter, r *http.Request) error {
	if a.d.Issuer == nil {
		return errorf(http.StatusConflict, "this server issues no certificates: set admin.issuer_cert_file and admin.issuer_key_file")
	}
	var in SignRequest
	if err := readJSON(r, &in); err != nil {
		return err
	}
	tenant, name := r.PathValue("tenant"), r.PathValue("client")
	if err := checkName("client", name); err != nil {
		return err
	}
	if _, err := a.getTenant(r.Context(), tenant); err != nil {
		return err
	}
	cred, err := credential(in.Username, in.Password)
	if err != nil {
		return err
	}
	certPEM, err := a.d.Issuer.SignCSR([]byte(in.CSRPEM), true)
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", strings.TrimPrefix(err.Error(), "certs: "))
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	c := &store.Client{TenantID: tenant, Name: name, Enabled: true, Fingerprint: server.Fingerprint(cert), Credential: cred}
	if err := a.putNewClient(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, SignResponse{
		CertificatePEM: string(certPEM), CAPEM: string(a.d.Issuer.CertPEM()), Fingerprint: c.Fingerprint, Client: clientView(c),
	})
	return nil
}

func (a *API) exportCA(w http.ResponseWriter, _ *http.Request) error {
	if len(a.d.ServerCAPEM) == 0 {
		return errorf(http.StatusNotFound, "no CA configured")
	}
	writeJSON(w, http.StatusOK, CA{PEM: string(a.d.ServerCAPEM)})
	return nil
}
