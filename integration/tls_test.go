package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// foreignClientCert makes a CA that the server does not trust and a
// client certificate (clientAuth) that it signs.
func foreignClientCert(t testing.TB) tls.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "integration foreign CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		// The same name as the development client: only the issuer differs.
		Subject:     pkix.Name{CommonName: "kmip-client"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}

// TestTLS checks the mutual TLS of the listener: a client must present a
// certificate from the configured CA, over TLS 1.2 or 1.3.
func TestTLS(t *testing.T) {
	s := mainServer(t)
	good := s.clientTLS(t)
	foreign := foreignClientCert(t)
	noCert := []string{"handshake failure", "certificate required", "bad certificate"}
	badCert := []string{"unknown certificate authority", "bad certificate"}

	tests := []struct {
		name string
		// config changes a copy of the well-configured client's settings.
		config      func(*tls.Config)
		wantVersion uint16 // 0: the connection must be refused
		// wantAlert lists the TLS alerts that may refuse the connection.
		wantAlert []string
	}{
		{"TLS 1.2", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12 }, tls.VersionTLS12, nil},
		{"TLS 1.3", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS13, tls.VersionTLS13 }, tls.VersionTLS13, nil},
		{"no client certificate, TLS 1.2", func(c *tls.Config) {
			c.Certificates = nil
			c.MaxVersion = tls.VersionTLS12
		}, 0, noCert},
		{"no client certificate, TLS 1.3", func(c *tls.Config) { c.Certificates = nil }, 0, noCert},
		{"certificate from another CA, TLS 1.2", func(c *tls.Config) {
			// GetClientCertificate sends it even though the server's
			// certificate request names another CA.
			c.Certificates = nil
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }
			c.MaxVersion = tls.VersionTLS12
		}, 0, badCert},
		{"certificate from another CA, TLS 1.3", func(c *tls.Config) {
			c.Certificates = nil
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }
		}, 0, badCert},
		{"TLS 1.1 at most", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, 0,
			[]string{"protocol version not supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good.Clone()
			tt.config(cfg)
			conn, err := dialTLS(s, cfg)
			if err == nil {
				defer conn.Close()
			}
			if tt.wantVersion == 0 {
				if err != nil {
					t.Logf("refused at the handshake: %v", err)
					assertAlert(t, err, tt.wantAlert)
					return
				}
				// In TLS 1.3 the client finishes its handshake before the
				// server has checked the client's certificate: the refusal
				// (an alert) comes with the first read, and no KMIP
				// response ever does.
				assert.NotEqual(t, uint16(tls.VersionTLS12), conn.ConnectionState().Version,
					"a TLS 1.2 handshake must fail outright")
				resp, err := roundTrip(conn, discoverVersionsRequest(t))
				require.Error(t, err, "the server answered a refused client: %+v", resp)
				t.Logf("refused after the client's handshake: %v", err)
				assertAlert(t, err, tt.wantAlert)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tls.VersionName(tt.wantVersion), tls.VersionName(conn.ConnectionState().Version))
			resp, err := roundTrip(conn, discoverVersionsRequest(t))
			require.NoError(t, err)
			assert.Equal(t, 1, resp.ResponseHeader.ProtocolVersion.ProtocolVersionMajor, "answered in the request's version")
			assert.Equal(t, 4, resp.ResponseHeader.ProtocolVersion.ProtocolVersionMinor, "answered in the request's version")
			require.Len(t, resp.BatchItem, 1)
			assert.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus)
		})
	}
}

// assertAlert checks that err is a TLS alert from the server, one of want.
func assertAlert(t *testing.T, err error, want []string) {
	t.Helper()
	for _, w := range want {
		if strings.Contains(err.Error(), "remote error: tls: "+w) {
			return
		}
	}
	t.Errorf("refused with %q, want a TLS alert from the server among %q", err, want)
}
