package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/certs"
)

// Tenants, registered clients and the admin API, end to end: a server of
// its own (the registry changes who may connect, so the shared server is
// left alone), driven by kmipctl through the admin API and by KMIP
// clients holding the certificates kmipctl issued.

// adminReadyMessage is the log message of the admin listener.
const adminReadyMessage = "admin listener ready"

// tenantServer is a server with its admin API.
type tenantServer struct {
	*server
	admin string // the admin listener's address
}

func startTenantServer(t *testing.T) *tenantServer {
	t.Helper()
	requireSoftHSM(t)
	adapter, ctl := bin(t, "kmip-adapter"), bin(t, "kmipctl")
	dir := filepath.Join(suite.tmp, "tenants-"+randomHex(t, 4))
	require.NoError(t, devInit(ctl, dir))
	s, err := startServer(adapter, dir, nil, "--admin-listen", "127.0.0.1:0", "--log-level", "debug")
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := s.stopCleanly(); err != nil {
			t.Errorf("tenant server: %v", err)
		}
	})
	return withAdmin(t, s)
}

// withAdmin finds the admin listener's address in a server's log.
func withAdmin(t *testing.T, s *server) *tenantServer {
	t.Helper()
	ts := &tenantServer{server: s}
	for _, e := range s.log.entries() {
		if e["message"] == adminReadyMessage {
			ts.admin, _ = e["addr"].(string)
		}
	}
	require.NotEmpty(t, ts.admin, "no %q line in the log:\n%s", adminReadyMessage, s.log.String())
	return ts
}

// ctl runs kmipctl against the server's admin API and returns its
// standard output; wantErr says whether it must fail (then stderr is
// returned).
func (ts *tenantServer) run(t *testing.T, wantErr bool, args ...string) string {
	t.Helper()
	argv := append(args, "--config", filepath.Join(ts.dir, "config.yaml"), "--admin", ts.admin)
	cmd := exec.Command(bin(t, "kmipctl"), argv...)
	cmd.Env = environ()
	stdout, stderr, err := runSplit(cmd, cmdTimeout)
	if wantErr {
		require.Error(t, err, "kmipctl %s must fail; stdout: %s", strings.Join(args, " "), stdout)
		return string(stderr)
	}
	require.NoError(t, err, "kmipctl %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout, stderr)
	return string(stdout)
}

func (ts *tenantServer) ctl(t *testing.T, args ...string) string { return ts.run(t, false, args...) }

func (ts *tenantServer) ctlFails(t *testing.T, args ...string) string {
	return ts.run(t, true, args...)
}

// dialAs opens a KMIP 1.4 session with a certificate.
func (ts *tenantServer) dialAs(t *testing.T, cert tls.Certificate) (*wireSession, error) {
	t.Helper()
	cfg := ts.clientTLS(t)
	cfg.Certificates = []tls.Certificate{cert}
	conn, err := dialTLS(ts.server, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wireSession{t: t, conn: conn, major: 1, minor: 4}, nil
}

func loadPair(t *testing.T, certFile, keyFile string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	return pair
}

func pairFromPEM(t *testing.T, certPEM, keyPEM []byte) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	return pair
}

// issued is the certificate and key `kmipctl client issue` wrote.
func issued(t *testing.T, dir, name string) tls.Certificate {
	return loadPair(t, filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
}

// session dials with cert and requires the handshake to pass.
func (ts *tenantServer) session(t *testing.T, cert tls.Certificate) *wireSession {
	t.Helper()
	w, err := ts.dialAs(t, cert)
	require.NoError(t, err)
	return w
}

// assertAuthRefused sends a Discover Versions and requires the answer
// Authentication Not Successful (with msg in its Result Message).
func assertAuthRefused(t *testing.T, w *wireSession, msg string) {
	t.Helper()
	r := w.exchange(wireItem{kmip14.OperationDiscoverVersions, gkmip.DiscoverVersionsRequestPayload{}})
	require.Len(t, r, 1)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r[0].ResultStatus)
	assert.Equal(t, kmip14.ResultReasonAuthenticationNotSuccessful, r[0].ResultReason, r[0].ResultMessage)
	assert.Contains(t, r[0].ResultMessage, msg)
}

// assertHandshakeRefused requires the server to refuse the certificate at
// the TLS layer (at TLS 1.3, with the first read). The client sends the
// certificate whatever CA names the server asks for, as appliances do (Go
// would otherwise send none).
func (ts *tenantServer) assertHandshakeRefused(t *testing.T, cert tls.Certificate) {
	t.Helper()
	cfg := ts.clientTLS(t)
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	conn, err := dialTLS(ts.server, cfg)
	if err == nil {
		defer conn.Close()
		_, err = roundTrip(conn, discoverVersionsRequest(t))
		require.Error(t, err, "the server answered a certificate it must refuse")
	}
	assertAlert(t, err, []string{"bad certificate", "expired certificate", "unknown certificate authority", "unsupported certificate"})
}

// batch sends items in one message with the given continuation option
// and credential, and returns the answer's items.
func batch(t *testing.T, w *wireSession, cont kmip14.BatchErrorContinuationOption, auth *gkmip.Authentication, items ...gkmip.RequestBatchItem) []wireResult {
	t.Helper()
	msg := gkmip.RequestMessage{
		RequestHeader: gkmip.RequestHeader{
			ProtocolVersion:              gkmip.ProtocolVersion{ProtocolVersionMajor: 1, ProtocolVersionMinor: 4},
			BatchErrorContinuationOption: cont,
			Authentication:               auth,
			BatchCount:                   len(items),
		},
		BatchItem: items,
	}
	req, err := ttlv.Marshal(msg)
	require.NoError(t, err)
	require.NoError(t, w.conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = w.conn.Write(req)
	require.NoError(t, err)
	raw, err := readMessage(w.conn)
	require.NoError(t, err)
	var resp wireResponse
	decodeWire(t, raw, &resp, raw.String())
	out := make([]wireResult, len(resp.BatchItem))
	for i, bi := range resp.BatchItem {
		out[i] = wireResult{Operation: bi.Operation, ID: bi.UniqueBatchItemID, ResultStatus: bi.ResultStatus,
			ResultReason: bi.ResultReason, ResultMessage: bi.ResultMessage, Payload: trimTTLV(bi.ResponsePayload)}
	}
	return out
}

func byID(op kmip14.Operation, id string) gkmip.RequestBatchItem {
	return gkmip.RequestBatchItem{Operation: op, RequestPayload: payload(ttlv.NewValue(kmip14.TagUniqueIdentifier, id))}
}

func credentialOf(user, pass string) *gkmip.Authentication {
	return &gkmip.Authentication{Credential: []gkmip.Credential{{
		CredentialType:  kmip14.CredentialTypeUsernameAndPassword,
		CredentialValue: gkmip.UsernameAndPasswordCredentialValue{Username: user, Password: pass},
	}}}
}

// TestTenants: two tenants and three clients see only their own objects;
// unregistered, expired, untrusted and wrongly authenticated clients are
// refused; admin changes apply at once; per-tenant CAs and policies.
func TestTenants(t *testing.T) {
	ts := startTenantServer(t)
	out := t.TempDir()

	// Before any tenant is made, the configured single tenant serves the
	// development client, as it always did.
	ts.session(t, loadPair(t, ts.pki("client.crt"), ts.pki("client.key"))).create()

	ts.ctl(t, "tenant", "create", "alpha")
	ts.ctl(t, "tenant", "create", "beta", "--activate-on-create")
	for _, c := range []struct{ tenant, name string }{{"alpha", "a1"}, {"alpha", "a2"}, {"beta", "b1"}} {
		got := ts.ctl(t, "client", "issue", "--tenant", c.tenant, "--name", c.name, "--out", out)
		assert.Contains(t, got, "registered")
		for _, ext := range []string{".crt", ".key", ".p12", ".p12.pass"} {
			_, err := os.Stat(filepath.Join(out, c.name+ext))
			require.NoError(t, err, c.name+ext)
		}
	}
	a1, a2, b1 := ts.session(t, issued(t, out, "a1")), ts.session(t, issued(t, out, "a2")), ts.session(t, issued(t, out, "b1"))

	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(ts.ctl(t, "client", "list", "--json")), &list))
	assert.Len(t, list, 3)

	t.Run("isolation", func(t *testing.T) {
		shared := custom("x-Tenant-Test", "shared-"+randomHex(t, 6))
		k1 := a1.create(shared)
		k2 := b1.create(shared)
		assert.Equal(t, []string{k1}, a1.locate(shared), "alpha finds only its own key")
		assert.Equal(t, []string{k1}, a2.locate(shared), "a second client of alpha sees alpha's key")
		assert.Equal(t, []string{k2}, b1.locate(shared), "beta finds only its own key")
		a2.getKey(k1)
		assert.NotEmpty(t, a2.getAttributes(k1))

		// Another tenant's identifier answers exactly as one that does
		// not exist, for every operation, alone and in a batch.
		missing := "00000000-0000-4000-8000-" + randomHex(t, 6)
		ops := []kmip14.Operation{kmip14.OperationGet, kmip14.OperationGetAttributes, kmip14.OperationDestroy, kmip14.OperationActivate}
		answer := func(w *wireSession, id string) []wireResult {
			items := make([]gkmip.RequestBatchItem, len(ops))
			for i, op := range ops {
				items[i] = byID(op, id)
			}
			return batch(t, w, kmip14.BatchErrorContinuationOptionContinue, nil, items...)
		}
		foreign, absent := answer(b1, k1), answer(b1, missing)
		require.Len(t, foreign, len(ops))
		require.Len(t, absent, len(ops))
		for i := range ops {
			assert.Equal(t, kmip14.ResultStatusOperationFailed, foreign[i].ResultStatus, "%s of another tenant's key", ops[i])
			assert.Equal(t, absent[i].ResultReason, foreign[i].ResultReason, "%s", ops[i])
			assert.Equal(t, absent[i].ResultMessage, foreign[i].ResultMessage, "%s", ops[i])
		}
		a1.getKey(k1) // still there: beta's Destroy touched nothing

		// Beta's key is Active at once (its policy), alpha's Pre-Active.
		assert.Equal(t, kmip14.ResultReasonPermissionDenied, batch(t, b1, 0, nil, byID(kmip14.OperationDestroy, k2))[0].ResultReason,
			"an Active key cannot be destroyed")
		a1.destroy(k1)
	})

	t.Run("refused clients", func(t *testing.T) {
		// The development client is no one's once tenants exist.
		dev := loadPair(t, ts.pki("client.crt"), ts.pki("client.key"))
		w := ts.session(t, dev)
		assertAuthRefused(t, w, "is not registered")

		expired := issueClient(t, ts.server, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		})
		ts.assertHandshakeRefused(t, expired)

		stranger, err := certs.NewCA("nobody's CA", certs.KeyTypeECDSA)
		require.NoError(t, err)
		certPEM, keyPEM, err := stranger.IssueClient("a1", certs.KeyTypeECDSA)
		require.NoError(t, err)
		ts.assertHandshakeRefused(t, pairFromPEM(t, certPEM, keyPEM))

		// A tenant that requires a KMIP Credential.
		pw := filepath.Join(out, "gamma.pw")
		require.NoError(t, os.WriteFile(pw, []byte("correct horse\n"), 0o600))
		ts.ctl(t, "tenant", "create", "gamma", "--require-credential")
		ts.ctl(t, "client", "issue", "--tenant", "gamma", "--name", "g1", "--out", out, "--username", "kmip", "--password-file", pw)
		g1 := ts.session(t, issued(t, out, "g1"))
		discover := gkmip.RequestBatchItem{Operation: kmip14.OperationDiscoverVersions, RequestPayload: gkmip.DiscoverVersionsRequestPayload{}}
		for _, tt := range []struct {
			name string
			auth *gkmip.Authentication
			want kmip14.ResultStatus
		}{
			{"no credential", nil, kmip14.ResultStatusOperationFailed},
			{"wrong password", credentialOf("kmip", "battery staple"), kmip14.ResultStatusOperationFailed},
			{"wrong username", credentialOf("root", "correct horse"), kmip14.ResultStatusOperationFailed},
			{"right credential", credentialOf("kmip", "correct horse"), kmip14.ResultStatusSuccess},
			{"wrong one after the right one", credentialOf("kmip", "correct horse!"), kmip14.ResultStatusOperationFailed},
		} {
			r := batch(t, g1, 0, tt.auth, discover)
			require.Len(t, r, 1, tt.name)
			assert.Equal(t, tt.want, r[0].ResultStatus, "%s: %s", tt.name, r[0].ResultMessage)
			if tt.want != kmip14.ResultStatusSuccess {
				assert.Equal(t, kmip14.ResultReasonAuthenticationNotSuccessful, r[0].ResultReason, tt.name)
			}
		}

		// A new password applies to the next connection.
		pw2 := filepath.Join(out, "gamma2.pw")
		require.NoError(t, os.WriteFile(pw2, []byte("new horse\n"), 0o600))
		ts.ctl(t, "client", "set-credential", "--tenant", "gamma", "--name", "g1", "--username", "kmip", "--password-file", pw2)
		g1 = ts.session(t, issued(t, out, "g1"))
		assert.Equal(t, kmip14.ResultReasonAuthenticationNotSuccessful, batch(t, g1, 0, credentialOf("kmip", "correct horse"), discover)[0].ResultReason)
		assert.Equal(t, kmip14.ResultStatusSuccess, batch(t, g1, 0, credentialOf("kmip", "new horse"), discover)[0].ResultStatus)
	})

	t.Run("admin changes apply at once", func(t *testing.T) {
		dev := loadPair(t, ts.pki("client.crt"), ts.pki("client.key"))
		ts.ctl(t, "client", "add", "--tenant", "alpha", "--name", "devclient", "--cert", ts.pki("client.crt"))
		ts.session(t, dev).create()

		ts.ctl(t, "client", "remove", "--tenant", "alpha", "--name", "a2")
		assertAuthRefused(t, ts.session(t, issued(t, out, "a2")), "is not registered")
		assertAuthRefused(t, a2, "is not registered") // its open connection too, at its next request

		ts.ctl(t, "client", "disable", "--tenant", "alpha", "--name", "devclient")
		assertAuthRefused(t, ts.session(t, dev), "client is disabled")
		ts.ctl(t, "client", "enable", "--tenant", "alpha", "--name", "devclient")

		ts.ctl(t, "tenant", "disable", "alpha")
		assertAuthRefused(t, ts.session(t, issued(t, out, "a1")), "tenant is disabled")
		ts.ctl(t, "tenant", "enable", "alpha")
		ts.session(t, issued(t, out, "a1")).create()

		// Allowed operations: Permission Denied for the others.
		ts.ctl(t, "tenant", "update", "alpha", "--allowed-ops", "DiscoverVersions,Locate")
		w := ts.session(t, issued(t, out, "a1"))
		r := batch(t, w, kmip14.BatchErrorContinuationOptionContinue, nil,
			gkmip.RequestBatchItem{Operation: kmip14.OperationDiscoverVersions, RequestPayload: gkmip.DiscoverVersionsRequestPayload{}},
			byID(kmip14.OperationGet, "anything"))
		require.Len(t, r, 2)
		assert.Equal(t, kmip14.ResultStatusSuccess, r[0].ResultStatus)
		assert.Equal(t, kmip14.ResultReasonPermissionDenied, r[1].ResultReason)
		ts.ctl(t, "tenant", "update", "alpha", "--allowed-ops", "")

		// A tenant holding Active objects cannot be deleted.
		b1.create()
		got := ts.ctlFails(t, "tenant", "delete", "beta")
		assert.Contains(t, got, "Active objects")
		ts.ctl(t, "tenant", "create", "empty")
		ts.ctl(t, "tenant", "delete", "empty")
		assert.NotContains(t, ts.ctl(t, "tenant", "list"), "empty")
	})

	t.Run("a tenant's own CA and certificates without clientAuth", func(t *testing.T) {
		vmca, err := certs.NewCA("VMCA test root", certs.KeyTypeRSA)
		require.NoError(t, err)
		vmcaFile := filepath.Join(out, "vmca.crt")
		require.NoError(t, os.WriteFile(vmcaFile, vmca.CertPEM(), 0o644))
		ts.ctl(t, "tenant", "create", "vsphere", "--activate-on-create")
		ts.ctl(t, "tenant", "trust-ca", "vsphere", "--ca", vmcaFile)
		ts.ctl(t, "client", "add", "--tenant", "vsphere", "--name", "vcenter", "--issuer", "CN=VMCA test root", "--subject-cn", "vcenter")

		certPEM, keyPEM, err := vmca.IssueClient("vcenter", certs.KeyTypeRSA)
		require.NoError(t, err)
		vc := ts.session(t, pairFromPEM(t, certPEM, keyPEM))
		vc.create()

		// A certificate of vSphere's CA registered in another tenant is
		// not trusted there.
		sneakyPEM, sneakyKey, err := vmca.IssueClient("sneaky", certs.KeyTypeRSA)
		require.NoError(t, err)
		sneakyFile := filepath.Join(out, "sneaky.crt")
		require.NoError(t, os.WriteFile(sneakyFile, sneakyPEM, 0o644))
		ts.ctl(t, "client", "add", "--tenant", "alpha", "--name", "sneaky", "--cert", sneakyFile)
		assertAuthRefused(t, ts.session(t, pairFromPEM(t, sneakyPEM, sneakyKey)), `not trusted for tenant "alpha"`)

		// A client certificate for server authentication only (vCenter
		// 6.5): refused at the handshake while no tenant accepts it,
		// then accepted for the tenant whose policy does, only.
		serverOnly := issueClient(t, ts.server, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			c.Subject.CommonName = "old-vcenter"
		})
		ts.assertHandshakeRefused(t, serverOnly)
		ts.ctl(t, "tenant", "create", "legacy-vc", "--allow-no-client-auth-eku")
		ts.ctl(t, "client", "add", "--tenant", "legacy-vc", "--name", "old-vcenter", "--subject-cn", "old-vcenter")
		ts.session(t, serverOnly).create()
		otherServerOnly := issueClient(t, ts.server, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			c.Subject.CommonName = "array-no-eku"
		})
		ts.ctl(t, "client", "add", "--tenant", "alpha", "--name", "array-no-eku", "--subject-cn", "array-no-eku")
		assertAuthRefused(t, ts.session(t, otherServerOnly), `not trusted for tenant "alpha"`)

		// vCenter's own self-signed certificate ("vCenter Certificate"):
		// the tenant trusts it as its own root, and registers it.
		self := selfSignedServerOnly(t, "vc65.example.com")
		selfFile := filepath.Join(out, "vc65.crt")
		require.NoError(t, os.WriteFile(selfFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: self.Certificate[0]}), 0o644))
		ts.ctl(t, "tenant", "trust-ca", "legacy-vc", "--ca", selfFile)
		ts.ctl(t, "client", "add", "--tenant", "legacy-vc", "--name", "vc65", "--cert", selfFile)
		ts.session(t, self).create()
	})

	t.Run("the admin API takes operator certificates only", func(t *testing.T) {
		operator := ts.clientTLS(t)
		operator.Certificates = []tls.Certificate{loadPair(t, ts.pki("operator.crt"), ts.pki("operator.key"))}
		tenants, err := admin.NewClient(ts.admin, operator).ListTenants(context.Background())
		require.NoError(t, err)
		assert.NotEmpty(t, tenants)

		// A KMIP client's certificate, even a registered one, is refused.
		for _, cert := range []tls.Certificate{issued(t, out, "a1"), loadPair(t, ts.pki("client.crt"), ts.pki("client.key"))} {
			kmipClient := ts.clientTLS(t)
			kmipClient.Certificates = nil
			kmipClient.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
			_, err := admin.NewClient(ts.admin, kmipClient).ListTenants(context.Background())
			require.Error(t, err)
			// Refused by TLS (at 1.3 the client may learn it only as a
			// failed connection), never answered by the API.
			var apiErr *admin.APIError
			assert.False(t, errors.As(err, &apiErr), "the API answered a KMIP client: %v", err)
		}
	})

	t.Run("CSR signed by kmipctl, used by PyKMIP", func(t *testing.T) {
		requirePyKMIP(t)
		openssl, err := exec.LookPath("openssl")
		require.NoError(t, err)
		pki := filepath.Join(out, "pykmip")
		require.NoError(t, os.MkdirAll(pki, 0o700))
		csr := filepath.Join(pki, "client.csr")
		cmd := exec.Command(openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes",
			"-keyout", filepath.Join(pki, "client.key"), "-out", csr, "-subj", "/CN=pykmip-array/O=Example")
		got, err := runWithTimeout(cmd, cmdTimeout)
		require.NoError(t, err, "%s", got)
		assert.Contains(t, ts.ctl(t, "client", "sign-csr", "--tenant", "alpha", "--csr", csr,
			"--out", filepath.Join(pki, "client.crt"), "--ca-out", filepath.Join(pki, "ca.crt")), "alpha/pykmip-array registered")

		_, port, err := splitPort(ts.addr)
		require.NoError(t, err)
		stdout, stderr, err := runSplit(exec.Command(systemPython, pykmipDriver, "--port", port, "--pki", pki, "--count", "1", "create"), cmdTimeout)
		require.NoError(t, err, "stdout: %s\nstderr: %s", stdout, stderr)
		var created pyCreated
		require.NoError(t, json.Unmarshal(stdout, &created), "%s", stdout)
		require.Nil(t, created.Fatal)
		require.Len(t, created.Keys, 1)
		uid := created.Keys[0].UID
		assert.Equal(t, created.Keys[0].material(t), a1.getKey(uid), "alpha's other clients see the key PyKMIP made")
		r := batch(t, b1, 0, nil, byID(kmip14.OperationGet, uid))
		assert.Equal(t, kmip14.ResultStatusOperationFailed, r[0].ResultStatus, "beta does not")

		// PyKMIP's own encoding of a KMIP Credential, in the tenant that
		// requires one (made above).
		credPKI := filepath.Join(out, "pykmip-cred")
		require.NoError(t, os.MkdirAll(credPKI, 0o700))
		csr = filepath.Join(credPKI, "client.csr")
		got, err = runWithTimeout(exec.Command(openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes",
			"-keyout", filepath.Join(credPKI, "client.key"), "-out", csr, "-subj", "/CN=pykmip-cred"), cmdTimeout)
		require.NoError(t, err, "%s", got)
		ts.ctl(t, "client", "sign-csr", "--tenant", "gamma", "--csr", csr, "--out", filepath.Join(credPKI, "client.crt"),
			"--ca-out", filepath.Join(credPKI, "ca.crt"), "--username", "array", "--password-file", filepath.Join(out, "gamma.pw"))
		for _, tt := range []struct {
			password string
			ok       bool
		}{{"correct horse", true}, {"wrong horse", false}} {
			stdout, stderr, err := runSplit(exec.Command(systemPython, pykmipDriver, "--port", port, "--pki", credPKI,
				"--username", "array", "--password", tt.password, "--count", "1", "create"), cmdTimeout)
			var res pyCreated
			require.NoError(t, json.Unmarshal(stdout, &res), "%s\n%s", stdout, stderr)
			if tt.ok {
				require.NoError(t, err, "%s", stderr)
				require.Nil(t, res.Fatal)
				assert.Len(t, res.Keys, 1)
				continue
			}
			require.NotNil(t, res.Fatal, "a wrong password must be refused")
			assert.Equal(t, "AUTHENTICATION_NOT_SUCCESSFUL", res.Fatal.Reason, "%+v", res.Fatal)
		}
	})
}

// selfSignedServerOnly is a self-signed certificate for server
// authentication only, as vCenter 6.5 presents to a KMS.
func selfSignedServerOnly(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, DNSNames: []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func splitPort(addr string) (host, port string, err error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", os.ErrInvalid
	}
	return addr[:i], addr[i+1:], nil
}

// TestTenantsPostgresNodes: a change made through one node's admin API
// reaches the other node of a PostgreSQL pair at once: the change's
// NOTIFY makes the other node reload its registry (before LISTEN/NOTIFY,
// the registry.refresh_interval poll took 1.4 to 1.9 s here). Each
// direction must take under registryPropagation, on a new connection and
// on one that was open when the client was removed.
func TestTenantsPostgresNodes(t *testing.T) {
	e := newPGEnv(t, "tenants")
	a, b := withAdmin(t, e.node(t)), withAdmin(t, e.node(t))
	out := t.TempDir()
	discover := gkmip.RequestBatchItem{Operation: kmip14.OperationDiscoverVersions, RequestPayload: gkmip.DiscoverVersionsRequestPayload{}}
	answers := func(w *wireSession, want func(wireResult) bool) bool {
		r := batch(t, w, 0, nil, discover)
		return len(r) == 1 && want(r[0])
	}
	ok := func(r wireResult) bool { return r.ResultStatus == kmip14.ResultStatusSuccess }
	refused := func(r wireResult) bool { return r.ResultReason == kmip14.ResultReasonAuthenticationNotSuccessful }
	// onNewConnection dials node s with cert and reports whether the
	// answer is what want says.
	onNewConnection := func(s *tenantServer, cert tls.Certificate, want func(wireResult) bool) func() bool {
		return func() bool {
			w, err := s.dialAs(t, cert)
			return err == nil && answers(w, want)
		}
	}
	// Until node B sees the first managed tenant, it serves the
	// configured single tenant: it must refuse the development client,
	// which no tenant registers, once the tenant exists.
	a.ctl(t, "tenant", "create", "shared")
	dev := loadPair(t, a.pki("client.crt"), a.pki("client.key"))
	took := within(t, registryPropagation, "node B switched to registered clients", onNewConnection(b, dev, refused))
	t.Logf("node B refused the unregistered client %s after the first tenant was made on node A", took)

	a.ctl(t, "client", "issue", "--tenant", "shared", "--name", "c1", "--out", out)
	cert := issued(t, out, "c1")
	took = within(t, registryPropagation, "node B accepted the client registered through node A", onNewConnection(b, cert, ok))
	t.Logf("node B accepted the new client %s after it was registered on node A", took)
	id := b.session(t, cert).create()
	a.session(t, cert).getKey(id)

	// The client holds a connection open on node A when node B removes
	// it: its next request there is refused, and so is a new connection.
	open := a.session(t, cert)
	require.True(t, answers(open, ok))
	b.ctl(t, "client", "remove", "--tenant", "shared", "--name", "c1")
	assertAuthRefused(t, b.session(t, cert), "is not registered")
	took = within(t, registryPropagation, "node A refused the open connection of the client removed through node B",
		func() bool { return answers(open, refused) })
	t.Logf("node A refused the removed client's open connection %s after its removal on node B", took)
	took = within(t, registryPropagation, "node A refused a new connection of the client removed through node B", onNewConnection(a, cert, refused))
	t.Logf("node A refused a new connection of the removed client %s after its removal on node B", took)
}

// registryPropagation bounds how long a registry change made through one
// PostgreSQL node takes to reach another (LISTEN/NOTIFY; measured at a
// few milliseconds to tens of milliseconds on a loaded machine).
const registryPropagation = 300 * time.Millisecond

// within polls cond until it holds and returns how long that took,
// failing the test if it did not hold within d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		require.Less(t, time.Since(start), d, "%s: not within %s", what, d)
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	assert.Less(t, took, d, "%s: not within %s", what, d)
	return took.Round(time.Millisecond)
}
