package identity_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
)

// TestSessionResumption: the per-handshake configurations TLSConfig hands
// out resume sessions made under another handshake's configuration, at
// TLS 1.2 and 1.3, so reconnecting clients skip the full handshake.
func TestSessionResumption(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			f := newFixture(t, "")
			serverPEM, serverKey, err := f.ca.IssueServer([]string{"127.0.0.1"}, certs.KeyTypeECDSA)
			require.NoError(t, err)
			serverCert, err := tls.X509KeyPair(serverPEM, serverKey)
			require.NoError(t, err)
			pool := x509.NewCertPool()
			pool.AddCert(parse(t, f.ca.CertPEM()))
			srvCfg := f.id.TLSConfig(&tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, MinVersion: tls.VersionTLS12})

			clientPEM, clientKey, err := f.ca.IssueClient("a1", certs.KeyTypeECDSA)
			require.NoError(t, err)
			clientCert, err := tls.X509KeyPair(clientPEM, clientKey)
			require.NoError(t, err)
			cliCfg := &tls.Config{
				Certificates: []tls.Certificate{clientCert}, RootCAs: pool, ServerName: "127.0.0.1",
				MinVersion: version, MaxVersion: version, ClientSessionCache: tls.NewLRUClientSessionCache(4),
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			handshake := func() bool {
				done := make(chan error, 1)
				go func() {
					raw, err := ln.Accept()
					if err != nil {
						done <- err
						return
					}
					defer raw.Close()
					srv := tls.Server(raw, srvCfg)
					if err = srv.Handshake(); err == nil {
						// TLS 1.3 tickets travel after the handshake.
						_, err = srv.Write([]byte{1})
					}
					done <- err
				}()
				cli, err := tls.Dial("tcp", ln.Addr().String(), cliCfg)
				require.NoError(t, err)
				defer cli.Close()
				_, err = cli.Read(make([]byte, 1))
				require.NoError(t, err)
				require.NoError(t, <-done, "server")
				return cli.ConnectionState().DidResume
			}
			assert.False(t, handshake(), "first connection: a full handshake")
			assert.True(t, handshake(), "second connection resumes")
		})
	}
}
