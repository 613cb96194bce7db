package integration

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/certs"
)

// TestTLSRevokedCertificates configures tls.crl_file with a list made by
// our certs package from the development CA: a certificate it revokes is
// refused at the handshake (a warning naming it, an audit event of the
// auth source, the "revoked" handshake-failure metric), one of the same CA
// not listed is served. SIGHUP re-reads the list; a list that is expired
// or not signed by the client CA is refused at reload (the old one stays)
// and at start, with a one-line error naming tls.crl_file.
func TestTLSRevokedCertificates(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	ca, err := certs.LoadCA(filepath.Join(dir, "pki", "ca.crt"), filepath.Join(dir, "pki", "ca.key"))
	require.NoError(t, err)
	issue := func(cn string) (tls.Certificate, *big.Int) {
		certPEM, keyPEM, err := ca.IssueClient(cn, certs.KeyTypeECDSA)
		require.NoError(t, err)
		pair := pairFromPEM(t, certPEM, keyPEM)
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		require.NoError(t, err)
		return pair, leaf.SerialNumber
	}
	revoked, revokedSerial := issue("revoked-client")
	later, laterSerial := issue("revoked-later")
	good, _ := issue("good-client")

	now := time.Now()
	crlPath := filepath.Join(dir, "pki", "clients.crl")
	writeCRL := func(signer *certs.CA, number int64, this, next time.Time, serials ...*big.Int) {
		b, err := signer.RevocationList(number, serials, this, next)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(crlPath, b, 0o644))
	}
	writeCRL(ca, 1, now.Add(-time.Minute), now.Add(24*time.Hour), revokedSerial)
	env := []string{"KMIP_ADAPTER_TLS_CRL_FILE=" + crlPath}
	s, err := startServer(bin(t, "kmip-adapter"), dir, env, "--metrics-listen", "127.0.0.1:0")
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			_, _, _ = s.stop(stopTimeout)
		}
	}()
	var metricsAddr string
	require.Eventually(t, func() bool {
		for _, l := range s.log.entries() {
			if l["message"] == "metrics listener ready" {
				metricsAddr, _ = l["addr"].(string)
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)

	served := func(t *testing.T, cert tls.Certificate, version uint16) {
		t.Helper()
		cfg := s.clientTLS(t)
		cfg.Certificates = []tls.Certificate{cert}
		cfg.MinVersion, cfg.MaxVersion = version, version
		conn, err := dialTLS(s, cfg)
		require.NoError(t, err)
		defer conn.Close()
		resp, err := roundTrip(conn, discoverVersionsRequest(t))
		require.NoError(t, err)
		require.Len(t, resp.BatchItem, 1)
		assert.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus)
	}
	refused := func(t *testing.T, cert tls.Certificate, version uint16) {
		t.Helper()
		cfg := s.clientTLS(t)
		cfg.Certificates = []tls.Certificate{cert}
		cfg.MinVersion, cfg.MaxVersion = version, version
		conn, err := dialTLS(s, cfg)
		if err == nil {
			defer conn.Close()
			var resp any
			resp, err = roundTrip(conn, discoverVersionsRequest(t))
			require.Error(t, err, "the server answered a revoked certificate: %+v", resp)
		}
		assertAlert(t, err, []string{"bad certificate"})
	}
	revokedCount := func() float64 {
		return scrape(t, metricsAddr)[`kmip_adapter_tls_handshake_failures_total{reason="revoked"}`]
	}

	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		t.Run("revoked refused, unrevoked served, "+v.name, func(t *testing.T) {
			refused(t, revoked, v.version)
			served(t, good, v.version)
			served(t, later, v.version)
		})
	}
	require.Eventually(t, func() bool { return revokedCount() == 2 }, 5*time.Second, 20*time.Millisecond, "revoked handshakes counted")
	require.Eventually(t, func() bool { return s.logged("TLS handshake refused: client certificate revoked") }, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, s.log.String(), "CN=revoked-client", "the log line names the certificate")

	reload := func(t *testing.T, message string) {
		t.Helper()
		before := strings.Count(s.log.String(), message)
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
		require.Eventually(t, func() bool { return strings.Count(s.log.String(), message) > before }, 5*time.Second, 20*time.Millisecond, "no %q after SIGHUP", message)
	}
	t.Run("SIGHUP reads a new list", func(t *testing.T) {
		writeCRL(ca, 2, now.Add(-time.Minute), now.Add(24*time.Hour), revokedSerial, laterSerial)
		reload(t, "reloaded certificates and trusted CAs")
		refused(t, later, tls.VersionTLS13)
		refused(t, revoked, tls.VersionTLS12)
		served(t, good, tls.VersionTLS13)
	})

	other, err := certs.NewCA("KMIP Adapter Development CA", certs.KeyTypeECDSA)
	require.NoError(t, err)
	bad := []struct {
		name  string
		write func()
		want  string
	}{
		{"expired list", func() { writeCRL(ca, 3, now.Add(-48*time.Hour), now.Add(-24*time.Hour)) }, "expired at"},
		{"list not signed by the client CA", func() { writeCRL(other, 3, now.Add(-time.Minute), now.Add(24*time.Hour)) }, "not signed by a CA of tls.client_ca_file"},
	}
	for _, tt := range bad {
		t.Run(tt.name+" refused at reload and at start", func(t *testing.T) {
			tt.write()
			reload(t, "reload refused: keeping the current certificates")
			assert.Contains(t, s.log.String(), tt.want)
			refused(t, later, tls.VersionTLS13) // the previous list still holds
			served(t, good, tls.VersionTLS12)

			cmd := exec.Command(bin(t, "kmip-adapter"), "serve", "--config", filepath.Join(dir, "config.yaml"),
				"--listen", "127.0.0.1:0", "--log-format", "json")
			cmd.Env = append(environ(), env...)
			out, err := runWithTimeout(cmd, 30*time.Second)
			require.Error(t, err, "the server started with a bad list:\n%s", out)
			line := lastLines(strings.TrimSpace(string(out)), 1)
			assert.Contains(t, line, "tls.crl_file: ")
			assert.Contains(t, line, tt.want)
		})
	}

	_, err = s.stopCleanly()
	require.NoError(t, err)
	stopped = true
	var found bool
	for _, r := range auditShow(t, dir) {
		if r.Source == string(audit.SourceAuth) && r.Operation == "handshake" && strings.Contains(r.Reason, "revoked") {
			found = true
			assert.Contains(t, r.Client, "revoked-")
			assert.Equal(t, "AuthenticationNotSuccessful", r.Result)
		}
	}
	assert.True(t, found, "an audit event of the auth source for the revoked handshake")
}
