package certs

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// RevocationList signs a CRL (PEM "X509 CRL") that revokes the given
// serial numbers, valid from thisUpdate until nextUpdate; number is the
// list's CRL Number, which must grow with each list the CA issues.
func (ca *CA) RevocationList(number int64, serials []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if !nextUpdate.After(thisUpdate) {
		return nil, fmt.Errorf("certs: revocation list: next update %s is not after this update %s", nextUpdate, thisUpdate)
	}
	entries := make([]x509.RevocationListEntry, 0, len(serials))
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: revocation list: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}
