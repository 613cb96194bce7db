package identity_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
)

// BenchmarkIdentify is the per-connection cost of the registry: finding
// the client and verifying the chain for its tenant.
func BenchmarkIdentify(b *testing.B) {
	f := newFixture(b, "")
	ctx := context.Background()
	st := state(f.a1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.id.Identify(ctx, st, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestCheck is the per-request cost: the client is looked up
// again in the current registry.
func BenchmarkRequestCheck(b *testing.B) {
	f := newFixture(b, "")
	ctx := context.Background()
	c, err := f.id.Identify(ctx, state(f.a1), "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := c.Authenticate(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResumedHandshake compares a resumed TLS 1.3 handshake (what
// reconnecting clients mostly do) with Go's own client verification and
// with the registry's (VerifyConnection on a per-handshake configuration).
func BenchmarkResumedHandshake(b *testing.B) {
	f := newFixture(b, "")
	serverPEM, serverKey, err := f.ca.IssueServer([]string{"127.0.0.1"}, certs.KeyTypeECDSA)
	require.NoError(b, err)
	serverCert, err := tls.X509KeyPair(serverPEM, serverKey)
	require.NoError(b, err)
	pool := x509.NewCertPool()
	pool.AddCert(parse(b, f.ca.CertPEM()))
	base := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	clientPEM, clientKey, err := f.ca.IssueClient("a1", certs.KeyTypeECDSA)
	require.NoError(b, err)
	clientCert, err := tls.X509KeyPair(clientPEM, clientKey)
	require.NoError(b, err)
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{{"go", base}, {"registry", f.id.TLSConfig(base)}} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			defer ln.Close()
			go func() {
				for {
					raw, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer raw.Close()
						srv := tls.Server(raw, tc.cfg)
						if srv.Handshake() == nil {
							_, _ = srv.Write([]byte{1})
						}
					}()
				}
			}()
			cli := &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: pool, ServerName: "127.0.0.1",
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			for b.Loop() {
				c, err := tls.Dial("tcp", ln.Addr().String(), cli)
				require.NoError(b, err)
				_, err = c.Read(make([]byte, 1))
				require.NoError(b, err)
				_ = c.Close()
			}
		})
	}
}
