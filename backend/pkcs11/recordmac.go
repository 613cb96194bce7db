package pkcs11

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Record integrity (DESIGN.md section 4: "the store is never trusted
// blindly"): the SKEY MACs each stored record inside the HSM, and a record
// whose MAC does not verify is not served. The record's bytes are the
// caller's canonical encoding (object identifier, revision, attributes,
// sealed material); this package only binds them to the tenant and to
// this use of the SKEY:
//
//	"kmip-adapter/pkcs11/record/v1" 0x00
//	|| uint32 big endian len(tenantID) || tenantID
//	|| record
//
// The MAC is AES-CMAC (16 bytes) or HMAC-SHA256 (32 bytes), by the SKEY's
// type; every member of the set holds the same SKEY, so any member
// verifies what another made.
const recordDomain = "kmip-adapter/pkcs11/record/v1"

func recordMACInput(tenantID string, record []byte) []byte {
	b := make([]byte, 0, len(recordDomain)+1+4+len(tenantID)+len(record))
	b = append(b, recordDomain...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenantID)))
	b = append(b, tenantID...)
	return append(b, record...)
}

// MACRecord returns the SKEY's MAC of a stored record of tenantID.
func (b *Backend) MACRecord(ctx context.Context, tenantID string, record []byte) ([]byte, error) {
	if tenantID == "" {
		return nil, errors.New("pkcs11: MAC record: empty tenant ID")
	}
	leave, err := b.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	var out []byte
	err = b.do(ctx, func(m *member) error {
		return m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			skey, err := m.macKey(s)
			if err != nil {
				return unavailable("SKEY", err)
			}
			out, err = m.mac(s, skey, recordMACInput(tenantID, record))
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: MAC record: %w", err)
	}
	return out, nil
}

// VerifyRecord checks a record's MAC inside the HSM. A record or MAC that
// was changed, or a record presented under another tenant, gives an error
// matching backend.ErrIntegrity.
func (b *Backend) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error {
	if len(mac) == 0 {
		return fmt.Errorf("pkcs11: verify record: %w: no MAC", backend.ErrIntegrity)
	}
	leave, err := b.enter()
	if err != nil {
		return err
	}
	defer leave()
	err = b.do(ctx, func(m *member) error {
		return m.withSession(ctx, func(s pkcs11.SessionHandle) error {
			skey, err := m.macKey(s)
			if err != nil {
				return unavailable("SKEY", err)
			}
			return m.verifyMAC(s, skey, recordMACInput(tenantID, record), mac)
		})
	})
	if err != nil {
		return fmt.Errorf("pkcs11: verify record: %w", err)
	}
	return nil
}
