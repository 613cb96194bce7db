package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File names DevPKI writes in its directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	ClientCertFile = "client.crt"
	ClientKeyFile  = "client.key"
)

// DevCACommonName is the subject of the CA that DevPKI makes.
const DevCACommonName = "kmip-adapter development CA"

// DefaultClientCN is the client certificate's common name when
// DevPKIOptions.ClientCN is empty.
const DefaultClientCN = "kmip-client"

// devServerHosts are always in the development server certificate.
var devServerHosts = []string{"localhost", "127.0.0.1", "::1"}

// DevPKIOptions configures DevPKI.
type DevPKIOptions struct {
	// Hosts are DNS names or IP addresses the server certificate covers in
	// addition to localhost, 127.0.0.1 and ::1.
	Hosts []string
	// ClientCN is the client certificate's common name (DefaultClientCN
	// if empty).
	ClientCN string
	// KeyType is KeyTypeRSA (the default) or KeyTypeECDSA, for the keys
	// DevPKI generates. Existing valid files keep their key type.
	KeyType string
}

// DevPKI makes a development PKI in dir (created 0700): a CA (ca.crt,
// ca.key), a server certificate (server.crt, server.key) and a client
// certificate (client.crt, client.key). Key files are 0600.
//
// It is idempotent: files that exist and are valid are kept, and only what
// is missing or no longer valid is made again. A server or client pair is
// reissued when a file of the pair is missing, the key does not match, the
// certificate does not verify against the CA for its purpose, or it lacks a
// requested host or common name. If either CA file is missing, a new CA is
// made and both pairs are reissued under it. CA files that exist but cannot
// be used (corrupt, mismatched, expired) are an error: DevPKI does not
// overwrite a CA that clients may already trust.
func DevPKI(dir string, opts DevPKIOptions) error {
	// Check the option even when nothing needs a new key, so a typo is
	// reported on the first run, not on the first repair.
	if err := checkKeyType(opts.KeyType); err != nil {
		return fmt.Errorf("certs: dev PKI: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certs: dev PKI: %w", err)
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	ca, newCA, err := devCA(dir, opts.KeyType)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	hosts := append(append([]string(nil), devServerHosts...), opts.Hosts...)
	if newCA || !validLeaf(path(ServerCertFile), path(ServerKeyFile), roots, x509.ExtKeyUsageServerAuth, hosts, "") {
		certPEM, keyPEM, err := ca.IssueServer(hosts, opts.KeyType)
		if err != nil {
			return fmt.Errorf("certs: dev PKI: %w", err)
		}
		if err := writePair(path(ServerCertFile), certPEM, path(ServerKeyFile), keyPEM); err != nil {
			return err
		}
	}

	cn := opts.ClientCN
	if cn == "" {
		cn = DefaultClientCN
	}
	if newCA || !validLeaf(path(ClientCertFile), path(ClientKeyFile), roots, x509.ExtKeyUsageClientAuth, nil, cn) {
		certPEM, keyPEM, err := ca.IssueClient(cn, opts.KeyType)
		if err != nil {
			return fmt.Errorf("certs: dev PKI: %w", err)
		}
		if err := writePair(path(ClientCertFile), certPEM, path(ClientKeyFile), keyPEM); err != nil {
			return err
		}
	}
	return nil
}

// devCA loads the CA in dir, or makes one if a CA file is missing; isNew
// tells the caller that certificates from before no longer verify.
func devCA(dir, keyType string) (ca *CA, isNew bool, err error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certExists, err := exists(certPath)
	if err != nil {
		return nil, false, err
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, false, err
	}
	if certExists && keyExists {
		ca, err := LoadCA(certPath, keyPath)
		if err != nil {
			return nil, false, fmt.Errorf("certs: dev PKI: the CA in %s is unusable (remove %s and %s to make a new one): %w",
				dir, CACertFile, CAKeyFile, err)
		}
		return ca, false, nil
	}
	ca, err = NewCA(DevCACommonName, keyType)
	if err != nil {
		return nil, false, err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return nil, false, err
	}
	if err := writePair(certPath, ca.CertPEM(), keyPath, keyPEM); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// validLeaf reports whether the pair loads, the key matches, and the
// certificate verifies against roots for usage, for every host and with
// the common name cn (if not empty).
func validLeaf(certPath, keyPath string, roots *x509.CertPool, usage x509.ExtKeyUsage, hosts []string, cn string) bool {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil || pair.Leaf == nil {
		return false
	}
	leaf := pair.Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return cn == "" || leaf.Subject.CommonName == cn
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("certs: dev PKI: %w", err)
	}
}

// writePair writes the key before the certificate: if writing stops in
// between, the pair no longer matches and the next run reissues it.
func writePair(certPath string, certPEM []byte, keyPath string, keyPEM []byte) error {
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certPath, certPEM, 0o644)
}

// writeFile replaces path atomically (temporary file, fsync, rename), so a
// crash never leaves a half-written key or certificate behind.
func writeFile(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	return nil
}
