package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// Files of the development operator PKI, beside the other PKI files.
const (
	operatorCACert = "operator-ca.crt"
	operatorCAKey  = "operator-ca.key"
	operatorCert   = "operator.crt"
	operatorKey    = "operator.key"
)

// devAdmin makes the operator PKI in pki (once: a CA of its own, so that
// KMIP client certificates never reach the admin API, and one operator
// certificate) and returns the admin section: the admin listener two
// ports after the KMIP one (port 0 stays 0; the next port is a second
// node's KMIP port in the examples), the server certificate, and
// the development CA as the CA that issues KMIP client certificates.
func devAdmin(pki, kmipListen string) (config.Admin, error) {
	caCert, caKey := filepath.Join(pki, operatorCACert), filepath.Join(pki, operatorCAKey)
	ca, err := certs.LoadCA(caCert, caKey)
	if err != nil {
		if ca, err = certs.NewCA("kmip-adapter development operator CA", certs.KeyTypeECDSA); err != nil {
			return config.Admin{}, err
		}
		keyPEM, err := ca.KeyPEM()
		if err != nil {
			return config.Admin{}, err
		}
		if err := writeFiles(caKey, keyPEM, 0o600, caCert, ca.CertPEM(), 0o644); err != nil {
			return config.Admin{}, err
		}
		_ = os.Remove(filepath.Join(pki, operatorCert)) // issued by a CA that is gone
	}
	certPath, keyPath := filepath.Join(pki, operatorCert), filepath.Join(pki, operatorKey)
	if !validOperator(certPath, keyPath, ca) {
		certPEM, keyPEM, err := ca.IssueClient("operator", certs.KeyTypeECDSA)
		if err != nil {
			return config.Admin{}, err
		}
		if err := writeFiles(keyPath, keyPEM, 0o600, certPath, certPEM, 0o644); err != nil {
			return config.Admin{}, err
		}
	}
	host, port, err := net.SplitHostPort(kmipListen)
	if err != nil {
		return config.Admin{}, fmt.Errorf("--listen: %w", err)
	}
	adminPort := "0"
	if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65534 {
		adminPort = strconv.Itoa(p + 2)
	}
	return config.Admin{
		Listen:           net.JoinHostPort(host, adminPort),
		CertFile:         filepath.Join(pki, certs.ServerCertFile),
		KeyFile:          filepath.Join(pki, certs.ServerKeyFile),
		OperatorCAFile:   caCert,
		IssuerCertFile:   filepath.Join(pki, certs.CACertFile),
		IssuerKeyFile:    filepath.Join(pki, certs.CAKeyFile),
		ServerCAFile:     filepath.Join(pki, certs.CACertFile),
		OperatorCertFile: certPath,
		OperatorKeyFile:  keyPath,
	}, nil
}

func validOperator(certPath, keyPath string, ca *certs.CA) bool {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil || pair.Leaf == nil {
		return false
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// writeFiles writes a key, then its certificate.
func writeFiles(keyPath string, keyPEM []byte, keyMode os.FileMode, certPath string, certPEM []byte, certMode os.FileMode) error {
	if err := os.WriteFile(keyPath, keyPEM, keyMode); err != nil {
		return err
	}
	return os.WriteFile(certPath, certPEM, certMode)
}
