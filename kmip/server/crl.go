package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// ErrRevoked marks a client certificate refused because a configured CRL
// lists it; handshakeReason counts it as "revoked".
var ErrRevoked = errors.New("client certificate revoked")

// Revocations holds the certificate revocation lists of tls.crl_file, each
// checked against the CA that signed it when loaded.
type Revocations struct {
	lists []crl
}

type crl struct {
	issuer     []byte // raw subject of the CA that signed the list
	issuerName string
	next       time.Time
	serials    map[string]time.Time // serial (decimal) -> revocation time
}

// LoadRevocations reads the PEM (or DER) CRLs in path. Each must be signed
// by one of cas and not be past its Next Update at now: a list that is
// stale or forged would silently let revoked certificates in, so it is
// refused at start and at reload. Errors name the tls.crl_file key.
func LoadRevocations(path string, cas []*x509.Certificate, now time.Time) (*Revocations, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls.crl_file: %w", err)
	}
	var ders [][]byte
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "X509 CRL" {
			ders = append(ders, block.Bytes)
		}
	}
	if len(ders) == 0 && len(bytes.TrimSpace(data)) > 0 && !bytes.Contains(data, []byte("-----BEGIN")) {
		ders = append(ders, data) // a DER file holds one list
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("tls.crl_file: no X509 CRL in %s", path)
	}
	r := &Revocations{}
	for i, der := range ders {
		list, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("tls.crl_file: list %d of %s: %v", i+1, path, err)
		}
		ca := issuerOf(list, cas)
		if ca == nil {
			return nil, fmt.Errorf("tls.crl_file: list %d of %s (issuer %q) is not signed by a CA of tls.client_ca_file", i+1, path, list.Issuer.String())
		}
		if !list.NextUpdate.IsZero() && now.After(list.NextUpdate) {
			return nil, fmt.Errorf("tls.crl_file: list %d of %s (issuer %q) expired at %s", i+1, path, list.Issuer.String(), list.NextUpdate.UTC().Format(time.RFC3339))
		}
		c := crl{issuer: list.RawIssuer, issuerName: list.Issuer.String(), next: list.NextUpdate, serials: map[string]time.Time{}}
		for _, e := range list.RevokedCertificateEntries {
			c.serials[e.SerialNumber.String()] = e.RevocationTime
		}
		r.lists = append(r.lists, c)
	}
	return r, nil
}

// issuerOf returns the CA among cas whose name matches the list's issuer
// and whose key signed it.
func issuerOf(list *x509.RevocationList, cas []*x509.Certificate) *x509.Certificate {
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, list.RawIssuer) && list.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// Check refuses a chain in which a certificate is listed by the CRL of
// its issuer, or whose issuer's CRL has gone stale since it was loaded
// (fail closed: the operator reloads a fresh list with SIGHUP).
// Certificates of issuers without a list pass.
func (r *Revocations) Check(chain []*x509.Certificate, now time.Time) error {
	for _, cert := range chain {
		for _, l := range r.lists {
			if !bytes.Equal(l.issuer, cert.RawIssuer) {
				continue
			}
			if !l.next.IsZero() && now.After(l.next) {
				return fmt.Errorf("%w: the CRL of %q expired at %s (reload a fresh tls.crl_file)", ErrRevoked, l.issuerName, l.next.UTC().Format(time.RFC3339))
			}
			if at, ok := l.serials[cert.SerialNumber.String()]; ok {
				return fmt.Errorf("%w: serial %s of %q revoked at %s by %q", ErrRevoked, serialHex(cert.SerialNumber), cert.Subject.String(), at.UTC().Format(time.RFC3339), l.issuerName)
			}
		}
	}
	return nil
}

func serialHex(n *big.Int) string { return fmt.Sprintf("%x", n) }

// VerifyConnection is a tls.Config.VerifyConnection checking the peer's
// certificates against the lists.
func (r *Revocations) VerifyConnection(cs tls.ConnectionState) error {
	return r.Check(cs.PeerCertificates, time.Now())
}

// parseCerts reads every certificate of a PEM bundle.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
