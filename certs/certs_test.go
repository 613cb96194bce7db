package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allFiles = []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile}

func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range allFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		files[name] = b
	}
	return files
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cert, err := parseCertPEM(b)
	require.NoError(t, err)
	return cert
}

func caPool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(dir, CACertFile)))
	return pool
}

func loadPair(t *testing.T, dir, certFile, keyFile string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	require.NoError(t, err)
	require.NotNil(t, pair.Leaf)
	return pair
}

func TestDevPKI(t *testing.T) {
	tests := []struct {
		keyType string
		check   func(t *testing.T, key any)
	}{
		{"", func(t *testing.T, key any) {
			require.IsType(t, &rsa.PrivateKey{}, key)
			assert.Equal(t, 2048, key.(*rsa.PrivateKey).N.BitLen())
		}},
		{KeyTypeRSA, func(t *testing.T, key any) { require.IsType(t, &rsa.PrivateKey{}, key) }},
		{KeyTypeECDSA, func(t *testing.T, key any) {
			require.IsType(t, &ecdsa.PrivateKey{}, key)
			assert.Equal(t, elliptic.P256(), key.(*ecdsa.PrivateKey).Curve)
		}},
	}
	for _, tc := range tests {
		t.Run("keyType="+tc.keyType, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pki")
			start := time.Now()
			require.NoError(t, DevPKI(dir, DevPKIOptions{KeyType: tc.keyType, Hosts: []string{"kmip.example.test", "10.0.0.7"}}))

			info, err := os.Stat(dir)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "directory mode")
			for _, name := range []string{CAKeyFile, ServerKeyFile, ClientKeyFile} {
				info, err := os.Stat(filepath.Join(dir, name))
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), name)

				b, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				block, _ := pem.Decode(b)
				require.NotNil(t, block, name)
				assert.Equal(t, "PRIVATE KEY", block.Type, "%s is PKCS#8", name)
				key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
				require.NoError(t, err)
				tc.check(t, key)
			}

			ca := readCert(t, filepath.Join(dir, CACertFile))
			assert.True(t, ca.IsCA && ca.BasicConstraintsValid)
			assert.True(t, ca.MaxPathLenZero)
			assert.Equal(t, 0, ca.MaxPathLen)
			assert.Equal(t, DevCACommonName, ca.Subject.CommonName)
			assert.NotEmpty(t, ca.SubjectKeyId)
			assert.Equal(t, ca.SubjectKeyId, ca.AuthorityKeyId)
			assert.NotZero(t, ca.KeyUsage&x509.KeyUsageCertSign)
			assert.WithinDuration(t, start.AddDate(10, 0, 0), ca.NotAfter, time.Minute)
			assert.NoError(t, ca.CheckSignatureFrom(ca))
			roots := caPool(t, dir)

			server := loadPair(t, dir, ServerCertFile, ServerKeyFile).Leaf
			for _, host := range []string{"localhost", "127.0.0.1", "::1", "kmip.example.test", "10.0.0.7"} {
				_, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				assert.NoError(t, err, "server certificate for %s", host)
			}
			_, err = server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example.test"})
			assert.Error(t, err, "server certificate for a name it lacks")
			_, err = server.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			assert.Error(t, err, "server certificate for client auth")

			client := loadPair(t, dir, ClientCertFile, ClientKeyFile).Leaf
			assert.Equal(t, DefaultClientCN, client.Subject.CommonName)
			_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			assert.NoError(t, err, "client certificate for client auth")
			_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			assert.Error(t, err, "client certificate for server auth")

			for _, leaf := range []*x509.Certificate{server, client} {
				assert.False(t, leaf.IsCA)
				assert.True(t, leaf.BasicConstraintsValid)
				assert.NotEmpty(t, leaf.SubjectKeyId)
				assert.Equal(t, ca.SubjectKeyId, leaf.AuthorityKeyId)
				assert.Greater(t, leaf.SerialNumber.BitLen(), 64, "random 128-bit serial")
				assert.WithinDuration(t, start.Add(-backdate), leaf.NotBefore, time.Minute)
				assert.WithinDuration(t, start.AddDate(2, 0, 0), leaf.NotAfter, time.Minute)
			}
			assert.NotEqual(t, server.SerialNumber, client.SerialNumber)
		})
	}
}

func TestDevPKIIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	opts := DevPKIOptions{Hosts: []string{"kmip.example.test"}, ClientCN: "vcenter"}
	require.NoError(t, DevPKI(dir, opts))
	before := readFiles(t, dir)
	require.NoError(t, DevPKI(dir, opts))
	assert.Equal(t, before, readFiles(t, dir))

	// Another key type does not replace valid files.
	opts.KeyType = KeyTypeECDSA
	require.NoError(t, DevPKI(dir, opts))
	assert.Equal(t, before, readFiles(t, dir))
}

func TestDevPKIRepairsMissingClientKey(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, DevPKI(dir, DevPKIOptions{}))
	before := readFiles(t, dir)

	require.NoError(t, os.Remove(filepath.Join(dir, ClientKeyFile)))
	require.NoError(t, DevPKI(dir, DevPKIOptions{}))
	after := readFiles(t, dir)

	for _, name := range []string{CACertFile, CAKeyFile, ServerCertFile, ServerKeyFile} {
		assert.Equal(t, before[name], after[name], "%s must be kept", name)
	}
	assert.NotEqual(t, before[ClientCertFile], after[ClientCertFile], "a new client certificate for the new key")
	client := loadPair(t, dir, ClientCertFile, ClientKeyFile).Leaf
	_, err := client.Verify(x509.VerifyOptions{Roots: caPool(t, dir), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
}

func TestDevPKIReissuesForNewHost(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, DevPKI(dir, DevPKIOptions{}))
	before := readFiles(t, dir)

	require.NoError(t, DevPKI(dir, DevPKIOptions{Hosts: []string{"kmip.example.test"}}))
	after := readFiles(t, dir)
	assert.NotEqual(t, before[ServerCertFile], after[ServerCertFile])
	for _, name := range []string{CACertFile, CAKeyFile, ClientCertFile, ClientKeyFile} {
		assert.Equal(t, before[name], after[name], "%s must be kept", name)
	}
	server := loadPair(t, dir, ServerCertFile, ServerKeyFile).Leaf
	assert.NoError(t, server.VerifyHostname("kmip.example.test"))
	assert.NoError(t, server.VerifyHostname("localhost"))
}

func TestDevPKIMissingCAKeyMakesNewPKI(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, DevPKI(dir, DevPKIOptions{}))
	before := readFiles(t, dir)

	require.NoError(t, os.Remove(filepath.Join(dir, CAKeyFile)))
	require.NoError(t, DevPKI(dir, DevPKIOptions{}))
	after := readFiles(t, dir)
	for _, name := range allFiles {
		assert.NotEqual(t, before[name], after[name], "%s must be new", name)
	}
	roots := caPool(t, dir)
	for _, pair := range [][2]string{{ServerCertFile, ServerKeyFile}, {ClientCertFile, ClientKeyFile}} {
		_, err := loadPair(t, dir, pair[0], pair[1]).Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		assert.NoError(t, err, pair[0])
	}
}

func TestDevPKIRefusesUnusableCA(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, DevPKI(dir, DevPKIOptions{}))
	garbage := []byte("not a certificate\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, CACertFile), garbage, 0o644))

	err := DevPKI(dir, DevPKIOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unusable")
	got, err := os.ReadFile(filepath.Join(dir, CACertFile))
	require.NoError(t, err)
	assert.Equal(t, garbage, got, "DevPKI must not overwrite an existing CA")
}

func TestDevPKIBadKeyType(t *testing.T) {
	err := DevPKI(t.TempDir(), DevPKIOptions{KeyType: "dsa"})
	require.ErrorContains(t, err, `key type "dsa"`)
}

// handshake runs a real TLS connection over loopback and returns what each
// side saw. The client writes a byte and the server echoes it, so that the
// client also learns of a rejection that TLS 1.3 sends after its handshake.
func handshake(t *testing.T, serverConf, clientConf *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverConf)
	require.NoError(t, err)
	defer ln.Close()

	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		err = c.(*tls.Conn).Handshake()
		if err == nil {
			buf := make([]byte, 1)
			if _, err = io.ReadFull(c, buf); err == nil {
				_, err = c.Write(buf)
			}
		}
		done <- err
	}()

	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: clientConf}
	conn, err := dialer.Dial("tcp", ln.Addr().String())
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err = conn.Write([]byte{42}); err == nil {
			buf := make([]byte, 1)
			_, err = io.ReadFull(conn, buf)
		}
		conn.Close()
	}
	return <-done, err
}

func TestHandshake(t *testing.T) {
	for _, keyType := range []string{KeyTypeRSA, KeyTypeECDSA} {
		t.Run(keyType, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, DevPKI(dir, DevPKIOptions{KeyType: keyType}))
			roots := caPool(t, dir)
			serverConf := &tls.Config{
				Certificates: []tls.Certificate{loadPair(t, dir, ServerCertFile, ServerKeyFile)},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    roots,
				MinVersion:   tls.VersionTLS12,
			}
			client := loadPair(t, dir, ClientCertFile, ClientKeyFile)

			for _, tc := range []struct {
				name       string
				serverName string
				maxVersion uint16
			}{
				{"TLS 1.3 localhost", "localhost", tls.VersionTLS13},
				{"TLS 1.2 by address", "127.0.0.1", tls.VersionTLS12},
			} {
				t.Run(tc.name, func(t *testing.T) {
					serverErr, clientErr := handshake(t, serverConf, &tls.Config{
						Certificates: []tls.Certificate{client},
						RootCAs:      roots,
						ServerName:   tc.serverName,
						MaxVersion:   tc.maxVersion,
					})
					require.NoError(t, serverErr)
					require.NoError(t, clientErr)
				})
			}

			t.Run("client certificate from another CA", func(t *testing.T) {
				other, err := NewCA("another CA", keyType)
				require.NoError(t, err)
				certPEM, keyPEM, err := other.IssueClient(DefaultClientCN, keyType)
				require.NoError(t, err)
				intruder, err := tls.X509KeyPair(certPEM, keyPEM)
				require.NoError(t, err)

				serverErr, clientErr := handshake(t, serverConf, &tls.Config{
					Certificates: []tls.Certificate{intruder},
					RootCAs:      roots,
					ServerName:   "localhost",
				})
				require.Error(t, serverErr)
				assert.Contains(t, serverErr.Error(), "certificate")
				require.Error(t, clientErr)
			})
		})
	}
}

func newCSR(t *testing.T, key any, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestSignCSR(t *testing.T) {
	ca, err := NewCA("test CA", KeyTypeECDSA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	csrPEM := newCSR(t, key, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "vcenter.example.test", Organization: []string{"VMware"}},
		DNSNames: []string{"vcenter.example.test"},
	})

	for _, tc := range []struct {
		clientAuth   bool
		usage, wrong x509.ExtKeyUsage
	}{
		{true, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		{false, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	} {
		certPEM, err := ca.SignCSR(csrPEM, tc.clientAuth)
		require.NoError(t, err)
		cert, err := parseCertPEM(certPEM)
		require.NoError(t, err)
		assert.True(t, key.PublicKey.Equal(cert.PublicKey), "the requester's key is certified")
		assert.Equal(t, "vcenter.example.test", cert.Subject.CommonName)
		assert.Equal(t, []string{"VMware"}, cert.Subject.Organization)
		assert.Equal(t, []string{"vcenter.example.test"}, cert.DNSNames)
		assert.False(t, cert.IsCA)
		assert.Equal(t, ca.cert.SubjectKeyId, cert.AuthorityKeyId)
		_, err = cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
		assert.NoError(t, err, "clientAuth=%v", tc.clientAuth)
		_, err = cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tc.wrong}})
		assert.Error(t, err, "clientAuth=%v", tc.clientAuth)
	}

	// A request whose signature does not verify proves nothing about
	// who holds the key.
	block, _ := pem.Decode(csrPEM)
	der := bytes.Clone(block.Bytes)
	der[len(der)-1] ^= 0x01 // inside the signature
	tampered := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})

	weakKey, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		csr  []byte
		want string
	}{
		{"bad signature", tampered, "signature"},
		{"not PEM", []byte("garbage"), "PEM"},
		{"certificate instead of CSR", ca.CertPEM(), "PEM"},
		{"weak RSA key", newCSR(t, weakKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "weak"}}), "1024 bits"},
		{"no subject", newCSR(t, key, &x509.CertificateRequest{}), "no subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.SignCSR(tc.csr, true)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	ca, err := NewCA("test CA", KeyTypeRSA)
	require.NoError(t, err)
	keyPEM, err := ca.KeyPEM()
	require.NoError(t, err)
	certFile, keyFile := write("ca.crt", ca.CertPEM()), write("ca.key", keyPEM)

	loaded, err := LoadCA(certFile, keyFile)
	require.NoError(t, err)
	assert.Equal(t, ca.CertPEM(), loaded.CertPEM())
	// The loaded CA signs what the original CA's pool accepts.
	certPEM, _, err := loaded.IssueClient("c", KeyTypeECDSA)
	require.NoError(t, err)
	cert, err := parseCertPEM(certPEM)
	require.NoError(t, err)
	assert.NoError(t, cert.CheckSignatureFrom(ca.cert))

	// An OpenSSL-style PKCS#1 key loads too.
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(ca.key.(*rsa.PrivateKey))})
	_, err = LoadCA(certFile, write("pkcs1.key", pkcs1))
	require.NoError(t, err)

	other, err := NewCA("other CA", KeyTypeRSA)
	require.NoError(t, err)
	otherKey, err := other.KeyPEM()
	require.NoError(t, err)
	leafPEM, leafKey, err := ca.IssueServer([]string{"localhost"}, KeyTypeRSA)
	require.NoError(t, err)

	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"key of another CA", certFile, write("other.key", otherKey), "does not match"},
		{"end-entity certificate", write("leaf.crt", leafPEM), write("leaf.key", leafKey), "not a CA"},
		{"missing file", filepath.Join(dir, "nope.crt"), keyFile, "no such file"},
		{"not PEM", write("bad.crt", []byte("x")), keyFile, "no PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCA(tc.cert, tc.key)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestIssueServerHosts(t *testing.T) {
	ca, err := NewCA("test CA", KeyTypeECDSA)
	require.NoError(t, err)
	certPEM, _, err := ca.IssueServer([]string{"KMIP.example.test", "10.0.0.1", "kmip.example.test", "::1"}, KeyTypeECDSA)
	require.NoError(t, err)
	cert, err := parseCertPEM(certPEM)
	require.NoError(t, err)
	assert.Equal(t, []string{"kmip.example.test"}, cert.DNSNames)
	require.Len(t, cert.IPAddresses, 2)
	assert.Equal(t, "10.0.0.1", cert.IPAddresses[0].String())
	assert.Equal(t, "::1", cert.IPAddresses[1].String())
	assert.Zero(t, cert.KeyUsage&x509.KeyUsageKeyEncipherment, "ECDSA keys do not encipher")

	certPEM, _, err = ca.IssueServer([]string{"localhost"}, KeyTypeRSA)
	require.NoError(t, err)
	cert, err = parseCertPEM(certPEM)
	require.NoError(t, err)
	assert.NotZero(t, cert.KeyUsage&x509.KeyUsageKeyEncipherment, "RSA key exchange suites need keyEncipherment")

	_, _, err = ca.IssueServer(nil, KeyTypeRSA)
	require.Error(t, err)
	_, _, err = ca.IssueClient("", KeyTypeRSA)
	require.Error(t, err)
}
