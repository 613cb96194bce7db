package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// strictSuites are the TLS 1.2 suites offered by default: ECDHE key
// exchange with AEAD ciphers only. (TLS 1.3 suites are not configurable
// in Go and are all strong.)
var strictSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// compatSuites add the suites of the KMIP profiles (KMIP Profiles 1.4
// section 3.1) that many storage appliances are limited to, including RSA
// key exchange with CBC. Go disables them by default; only the explicit
// kmip-compat preset offers them.
var compatSuites = append(append([]uint16{}, strictSuites...),
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
)

// TLSConfig builds the listener's TLS configuration: a client certificate
// from one of the trusted CAs is always required.
func TLSConfig(c config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file/tls.key_file: %w", err)
	}
	pem, err := os.ReadFile(c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls.client_ca_file: no PEM certificate in %s", c.ClientCAFile)
	}
	cfg := &tls.Config{
		Certificates:  []tls.Certificate{cert},
		ClientAuth:    tls.RequireAndVerifyClientCert,
		ClientCAs:     pool,
		MinVersion:    tls.VersionTLS12,
		CipherSuites:  strictSuites,
		Renegotiation: tls.RenegotiateNever,
	}
	if c.MinVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	if c.CipherPreset == "kmip-compat" {
		cfg.CipherSuites = compatSuites
	}
	if c.CRLFile != "" {
		cas, err := parseCerts(pem)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		rev, err := LoadRevocations(c.CRLFile, cas, time.Now())
		if err != nil {
			return nil, err
		}
		// identity.TLSConfig runs this before its own checks.
		cfg.VerifyConnection = rev.VerifyConnection
	}
	return cfg, nil
}
