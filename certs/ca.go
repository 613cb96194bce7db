package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// Key types for the keyType arguments. An empty key type means KeyTypeRSA.
const (
	KeyTypeRSA   = "rsa"   // RSA-2048
	KeyTypeECDSA = "ecdsa" // ECDSA P-256
)

const (
	caYears   = 10
	leafYears = 2
	// backdate covers peers whose clocks run a little behind ours: a
	// certificate that is "not yet valid" fails the handshake.
	backdate = 5 * time.Minute
	// minRSABits is the smallest RSA key SignCSR certifies.
	minRSABits = 2048
)

// CA is a certificate authority: a CA certificate and its private key.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// NewCA makes a self-signed CA certificate, valid for 10 years, that can
// sign end-entity certificates only (path length 0).
func NewCA(cn, keyType string) (*CA, error) {
	if cn == "" {
		return nil, errors.New("certs: new CA: empty common name")
	}
	key, err := generateKey(keyType)
	if err != nil {
		return nil, fmt.Errorf("certs: new CA: %w", err)
	}
	tmpl, err := newTemplate(key.Public(), caYears)
	if err != nil {
		return nil, fmt.Errorf("certs: new CA: %w", err)
	}
	tmpl.Subject = pkix.Name{CommonName: cn}
	tmpl.IsCA = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	// Go fills the Authority Key Identifier from the parent only when the
	// issuer differs from the subject; a self-signed CA names itself.
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: new CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: new CA: %w", err)
	}
	return &CA{cert: cert, certPEM: encodeCert(der), key: key}, nil
}

// LoadCA reads a CA certificate and its private key from PEM files. The key
// may be PKCS#8, PKCS#1 or SEC 1. It fails if the key does not match the
// certificate, or the certificate is not a CA, or it is outside its
// validity period.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA %s: %w", keyFile, err)
	}
	if !publicKeyEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("certs: load CA: key %s does not match certificate %s", keyFile, certFile)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("certs: load CA: %s is not a CA certificate", certFile)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("certs: load CA: %s may not sign certificates (key usage)", certFile)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("certs: load CA: %s is valid only from %s to %s", certFile,
			cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	return &CA{cert: cert, certPEM: encodeCert(cert.Raw), key: key}, nil
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return append([]byte(nil), ca.certPEM...)
}

// KeyPEM returns the CA private key as PKCS#8 PEM.
func (ca *CA) KeyPEM() ([]byte, error) {
	return encodeKey(ca.key)
}

// IssueServer makes a key pair and a server certificate (serverAuth, 2
// years) for exactly the given DNS names and IP addresses; the first one is
// also the subject common name.
func (ca *CA) IssueServer(hosts []string, keyType string) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("certs: issue server certificate: no host names")
	}
	key, err := generateKey(keyType)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue server certificate: %w", err)
	}
	tmpl, err := newTemplate(key.Public(), leafYears)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue server certificate: %w", err)
	}
	tmpl.Subject = pkix.Name{CommonName: hosts[0]}
	if err := addHosts(tmpl, hosts); err != nil {
		return nil, nil, fmt.Errorf("certs: issue server certificate: %w", err)
	}
	setUsage(tmpl, key.Public(), false)
	return ca.issue(tmpl, key)
}

// IssueClient makes a key pair and a client certificate (clientAuth, 2
// years) with the given subject common name.
func (ca *CA) IssueClient(cn, keyType string) (certPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, errors.New("certs: issue client certificate: empty common name")
	}
	key, err := generateKey(keyType)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue client certificate: %w", err)
	}
	tmpl, err := newTemplate(key.Public(), leafYears)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue client certificate: %w", err)
	}
	tmpl.Subject = pkix.Name{CommonName: cn}
	setUsage(tmpl, key.Public(), true)
	return ca.issue(tmpl, key)
}

// SignCSR certifies the public key of a PEM certificate signing request for
// 2 years, as a client certificate (clientAuth) or a server certificate
// (serverAuth). It takes the subject and the subject alternative names from
// the request and nothing else: extensions a requester asks for (CA:TRUE,
// other key usages) are not granted. It refuses a request whose signature
// does not verify (the requester must hold the private key) and RSA keys
// shorter than 2048 bits.
func (ca *CA) SignCSR(csrPEM []byte, clientAuth bool) (certPEM []byte, err error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, errors.New("certs: sign CSR: no PEM CERTIFICATE REQUEST block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: sign CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certs: sign CSR: signature: %w", err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("certs: sign CSR: %w", err)
	}
	if csr.Subject.CommonName == "" && len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) == 0 {
		return nil, errors.New("certs: sign CSR: the request names no subject")
	}
	tmpl, err := newTemplate(csr.PublicKey, leafYears)
	if err != nil {
		return nil, fmt.Errorf("certs: sign CSR: %w", err)
	}
	// The raw subject keeps the requester's attributes and their order.
	tmpl.RawSubject = csr.RawSubject
	tmpl.DNSNames = csr.DNSNames
	tmpl.IPAddresses = csr.IPAddresses
	tmpl.EmailAddresses = csr.EmailAddresses
	tmpl.URIs = csr.URIs
	setUsage(tmpl, csr.PublicKey, clientAuth)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: sign CSR: %w", err)
	}
	return encodeCert(der), nil
}

func (ca *CA) issue(tmpl *x509.Certificate, key crypto.Signer) (certPEM, keyPEM []byte, err error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

func checkKeyType(keyType string) error {
	switch keyType {
	case "", KeyTypeRSA, KeyTypeECDSA:
		return nil
	}
	return fmt.Errorf("key type %q: want %q or %q", keyType, KeyTypeRSA, KeyTypeECDSA)
}

func generateKey(keyType string) (crypto.Signer, error) {
	if err := checkKeyType(keyType); err != nil {
		return nil, err
	}
	if keyType == KeyTypeECDSA {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

// newTemplate fills what every certificate here has: a random serial, the
// key identifier, the validity period and basic constraints (CA:FALSE
// unless the caller sets IsCA).
func newTemplate(pub crypto.PublicKey, years int) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		SubjectKeyId:          ski,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(years, 0, 0),
		BasicConstraintsValid: true,
	}, nil
}

// randomSerial returns a random positive serial of up to 128 bits
// (RFC 5280 allows 20 octets; CA/B rules want at least 64 random bits).
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID is the SHA-256 of the DER SubjectPublicKeyInfo, cut to 160
// bits (RFC 7093 section 2, method 4).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	sum := sha256.Sum256(spki)
	return sum[:20], nil
}

// setUsage sets the key usages of an end-entity certificate. RSA server
// keys also get keyEncipherment: the RSA key exchange suites that some
// appliances insist on encrypt the premaster secret to the server key.
func setUsage(tmpl *x509.Certificate, pub crypto.PublicKey, clientAuth bool) {
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if clientAuth {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		return
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
}

func addHosts(tmpl *x509.Certificate, hosts []string) error {
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			return errors.New("empty host name")
		}
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
			seen[ip.String()] = true
			continue
		}
		if h = strings.ToLower(h); !seen[h] {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
		seen[h] = true
	}
	return nil
}

func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits: at least %d required", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
	default:
		// Ed25519 is not in the KMIP TLS profiles, and not every peer
		// here could verify it.
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	return nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("certs: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCertPEM returns the first certificate in data.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// parseKeyPEM reads the first private key in data, in any of the PEM forms
// OpenSSL writes.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("private key of type %T cannot sign", key)
		}
		return signer, nil
	}
}
