package server

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
)

func parsePEMCert(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(p)
	require.NotNil(t, b)
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

func TestRevocations(t *testing.T) {
	ca, err := certs.NewCA("crl test CA", certs.KeyTypeECDSA)
	require.NoError(t, err)
	other, err := certs.NewCA("crl test CA", certs.KeyTypeECDSA) // same name, other key
	require.NoError(t, err)
	caCert := parsePEMCert(t, ca.CertPEM())
	revokedPEM, _, err := ca.IssueClient("revoked", certs.KeyTypeECDSA)
	require.NoError(t, err)
	goodPEM, _, err := ca.IssueClient("good", certs.KeyTypeECDSA)
	require.NoError(t, err)
	revoked, good := parsePEMCert(t, revokedPEM), parsePEMCert(t, goodPEM)
	now := time.Now()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	list := func(signer *certs.CA, this, next time.Time) []byte {
		b, err := signer.RevocationList(1, []*big.Int{revoked.SerialNumber}, this, next)
		require.NoError(t, err)
		return b
	}
	current := list(ca, now.Add(-time.Hour), now.Add(time.Hour))

	rev, err := LoadRevocations(write("ok.pem", current), []*x509.Certificate{caCert}, now)
	require.NoError(t, err)
	err = rev.Check([]*x509.Certificate{revoked}, now)
	require.ErrorIs(t, err, ErrRevoked)
	assert.Contains(t, err.Error(), "CN=revoked")
	assert.Equal(t, "revoked", handshakeReason(err))
	assert.NoError(t, rev.Check([]*x509.Certificate{good}, now))
	// Once the list is stale, its CA's certificates are refused.
	assert.ErrorIs(t, rev.Check([]*x509.Certificate{good}, now.Add(2*time.Hour)), ErrRevoked)

	block, _ := pem.Decode(current)
	_, err = LoadRevocations(write("der.crl", block.Bytes), []*x509.Certificate{caCert}, now)
	assert.NoError(t, err, "a DER list loads too")

	refused := []struct {
		name, data, want string
	}{
		{"expired", string(list(ca, now.Add(-2*time.Hour), now.Add(-time.Hour))), "expired at"},
		{"signed by another CA", string(list(other, now.Add(-time.Hour), now.Add(time.Hour))), "not signed by a CA of tls.client_ca_file"},
		{"not a CRL", "not a list", "malformed crl"},
		{"certificate instead", string(goodPEM), "no X509 CRL"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadRevocations(write(tt.name, []byte(tt.data)), []*x509.Certificate{caCert}, now)
			require.Error(t, err)
			assert.Regexp(t, `^tls\.crl_file: `, err.Error())
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
	_, err = LoadRevocations(filepath.Join(dir, "missing"), nil, now)
	assert.Regexp(t, `^tls\.crl_file: `, err.Error())
	assert.False(t, errors.Is(err, ErrRevoked))
}
