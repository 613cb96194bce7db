package integration

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TLS refusals that integration/tls_test.go does not cover: each old
// version alone, certificates from the trusted CA that are expired or not
// for client authentication, and renegotiation. Revoked certificates are
// in revocation_test.go; the per-tenant clientAuth policy (refused at the
// handshake unless a tenant allows it, then at the first request for the
// other tenants) in tenants_test.go.

// devCA reads the development CA of s (certificate and key).
func devCA(t *testing.T, s *server) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	certPEM, err := os.ReadFile(s.pki("ca.crt"))
	require.NoError(t, err)
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(s.pki("ca.key"))
	require.NoError(t, err)
	block, _ = pem.Decode(keyPEM)
	require.NotNil(t, block)
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			key, err = x509.ParseECPrivateKey(block.Bytes)
		}
	}
	require.NoError(t, err, "CA key")
	return ca, key.(crypto.Signer)
}

// issueClient makes a client certificate signed by the development CA,
// shaped by edit.
func issueClient(t *testing.T, s *server, edit func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	ca, caKey := devCA(t, s)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "kmip-client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSRefusals: each case is refused at the TLS layer with an alert
// from the server, at TLS 1.2 and at 1.3 where the version allows, and no
// KMIP answer ever comes.
func TestTLSRefusals(t *testing.T) {
	s := mainServer(t)
	good := s.clientTLS(t)
	expired := issueClient(t, s, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	})
	notYet := issueClient(t, s, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour)
	})
	serverOnly := issueClient(t, s, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	badCert := []string{"bad certificate", "expired certificate", "unsupported certificate"}
	with := func(cert tls.Certificate, version uint16) func(*tls.Config) {
		return func(c *tls.Config) {
			c.Certificates = []tls.Certificate{cert}
			c.MinVersion, c.MaxVersion = version, version
		}
	}

	tests := []struct {
		name      string
		config    func(*tls.Config)
		wantAlert []string
	}{
		{"TLS 1.0 only", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 },
			[]string{"protocol version not supported"}},
		{"TLS 1.1 only", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 },
			[]string{"protocol version not supported"}},
		{"expired client certificate, TLS 1.2", with(expired, tls.VersionTLS12), badCert},
		{"expired client certificate, TLS 1.3", with(expired, tls.VersionTLS13), badCert},
		{"client certificate not valid yet, TLS 1.3", with(notYet, tls.VersionTLS13), badCert},
		{"client certificate for server authentication only, TLS 1.2", with(serverOnly, tls.VersionTLS12), badCert},
		{"client certificate for server authentication only, TLS 1.3", with(serverOnly, tls.VersionTLS13), badCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good.Clone()
			tt.config(cfg)
			conn, err := dialTLS(s, cfg)
			if err != nil {
				t.Logf("refused at the handshake: %v", err)
				assertAlert(t, err, tt.wantAlert)
				return
			}
			defer conn.Close()
			// TLS 1.3: the client's handshake ends before the server has
			// checked its certificate; the alert comes with the first read.
			require.Equal(t, uint16(tls.VersionTLS13), conn.ConnectionState().Version, "a TLS 1.2 handshake must fail outright")
			resp, err := roundTrip(conn, discoverVersionsRequest(t))
			require.Error(t, err, "the server answered a refused client: %+v", resp)
			t.Logf("refused after the client's handshake: %v", err)
			assertAlert(t, err, tt.wantAlert)
		})
	}

	// A certificate without the Extended Key Usage extension may be used
	// for anything (RFC 5280 section 4.2.1.12): Go's verifier, and so the
	// server, accept it. Whether a tenant accepts such clients (vCenter
	// 6.5's certificates lack clientAuth) is the per-tenant policy, for
	// certificates whose EKU lacks clientAuth (tenants_test.go).
	t.Run("client certificate without an Extended Key Usage extension is accepted", func(t *testing.T) {
		cfg := good.Clone()
		cfg.Certificates = []tls.Certificate{issueClient(t, s, func(c *x509.Certificate) { c.ExtKeyUsage = nil })}
		conn, err := dialTLS(s, cfg)
		require.NoError(t, err)
		defer conn.Close()
		resp, err := roundTrip(conn, discoverVersionsRequest(t))
		require.NoError(t, err)
		require.Len(t, resp.BatchItem, 1)
		assert.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus)
	})
}

// TestTLSRenegotiationRefused asks for a TLS 1.2 renegotiation with
// OpenSSL's s_client (Go's client cannot start one): the server refuses
// it (Go's server never renegotiates), and the connection ends instead of
// a second handshake.
func TestTLSRenegotiationRefused(t *testing.T) {
	s := mainServer(t)
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		skipOrFail(t, "openssl not found (apt-get install openssl): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", s.addr, "-tls1_2",
		"-cert", s.pki("client.crt"), "-key", s.pki("client.key"), "-CAfile", s.pki("ca.crt"),
		"-no_ign_eof")
	// "R" on a line of its own asks s_client to renegotiate; then give it
	// time to report what the server did before its input ends.
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	_ = pr.Close()
	time.Sleep(time.Second) // the handshake
	_, err = pw.Write([]byte("R\n"))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = pw.Close()
		err = <-done
	}
	_ = pw.Close()
	text := out.String()
	_ = os.WriteFile(filepath.Join(t.TempDir(), "s_client.txt"), out.Bytes(), 0o600)
	require.Contains(t, text, "RENEGOTIATING", "s_client must have asked for renegotiation:\n%s", text)
	// Go's server answers the second ClientHello with an
	// unexpected_message alert (no_renegotiation would do as well).
	refused := strings.Contains(text, "alert unexpected message") || strings.Contains(text, "alert no renegotiation")
	assert.True(t, refused, "want the server to refuse the renegotiation with an alert; s_client said:\n%s", text)
	assert.Error(t, err, "s_client ends on the refusal")
	t.Logf("s_client exit: %v; last lines:\n%s", err, lastLines(text, 6))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
