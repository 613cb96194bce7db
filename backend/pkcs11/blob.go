package pkcs11

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Tenant key blob (backend.TenantKey.Blob), version 2 (what NewTenantKey
// makes):
//
//	offset  size  field
//	0       1     version, 0x02
//	1       1     N, length of the MKEK's label (1..255)
//	2       N     the label of the MKEK that wrapped the key
//	2+N     2     L, length of the wrapped key, big endian
//	4+N     L     the tenant KEK (AES-256) wrapped by that MKEK with AES key
//	              wrap with padding (RFC 5649; 40 bytes for a 32-byte key)
//	4+N+L   rest  MAC by the SKEY: 16 bytes (AES-CMAC) or 32 (HMAC-SHA256)
//
// Naming the MKEK lets tenant keys made under an earlier MKEK open while a
// root rotation rewraps them under the new one (RewrapTenantKey).
//
// Version 1 (made before this release) is the same without N and the
// label: 0x01, L, wrapped, MAC. Its MKEK is backend.pkcs11.mkek_v1_label,
// or mkek_label when that is empty.
//
// The MAC covers
//
//	"kmip-adapter/pkcs11/tenant-key/v2" 0x00   (v1: ".../v1")
//	|| uint32 big endian len(tenantID) || tenantID
//	|| the blob up to the MAC
//
// so a blob moved to another tenant, or another use of the SKEY, fails.
// The domain string separates this use of the SKEY from any other MAC the
// adapter makes with it.
const (
	tenantKeyVersion1 = 0x01
	tenantKeyVersion  = 0x02
	tenantKeyDomain1  = "kmip-adapter/pkcs11/tenant-key/v1"
	tenantKeyDomain   = "kmip-adapter/pkcs11/tenant-key/v2"
)

// Sealed object key material (what Seal returns), version 1:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       12    AES-GCM IV, unique per tenant KEK (ivseq.go)
//	13      rest  AES-GCM ciphertext || 16-byte tag, under the tenant KEK,
//	              with the request's AdditionalData as AAD
const (
	sealedVersion = 0x01
	gcmIVSize     = 12
	gcmTagBits    = 128
	sealedHeader  = 1 + gcmIVSize
)

// tenantKeyBlob is a parsed tenant key blob.
type tenantKeyBlob struct {
	version byte
	mkek    string // the wrapping MKEK's label; "" in version 1
	signed  []byte // the blob up to the MAC: what the MAC covers after the tenant
	wrapped []byte
	mac     []byte
}

// encodeTenantKey lays out a version 2 blob up to the MAC; the MAC is
// appended once it is made over macInput.
func encodeTenantKey(mkek string, wrapped []byte) ([]byte, error) {
	if len(mkek) == 0 || len(mkek) > 0xFF {
		return nil, fmt.Errorf("MKEK label of %d bytes does not fit the blob", len(mkek))
	}
	if len(wrapped) == 0 || len(wrapped) > 0xFFFF {
		return nil, fmt.Errorf("wrapped key of %d bytes does not fit the blob", len(wrapped))
	}
	b := make([]byte, 0, 4+len(mkek)+len(wrapped)+32)
	b = append(b, tenantKeyVersion, byte(len(mkek)))
	b = append(b, mkek...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(wrapped)))
	return append(b, wrapped...), nil
}

// parseTenantKey splits a blob of either version. Any malformation is
// ErrIntegrity: the store holds only blobs we made, so a bad one was
// changed.
func parseTenantKey(b []byte) (tenantKeyBlob, error) {
	if len(b) < 1 {
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob is empty", backend.ErrIntegrity)
	}
	out := tenantKeyBlob{version: b[0]}
	rest := b[1:]
	switch b[0] {
	case tenantKeyVersion1:
	case tenantKeyVersion:
		if len(rest) < 1 || rest[0] == 0 || len(rest) < 1+int(rest[0]) {
			return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob is truncated", backend.ErrIntegrity)
		}
		out.mkek = string(rest[1 : 1+rest[0]])
		rest = rest[1+rest[0]:]
	default:
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob version 0x%02X is unknown", backend.ErrIntegrity, b[0])
	}
	if len(rest) < 2 {
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob is truncated", backend.ErrIntegrity)
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n == 0 || len(rest) <= n {
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob is truncated", backend.ErrIntegrity)
	}
	signedLen := len(b) - len(rest) + n
	out.signed, out.wrapped, out.mac = b[:signedLen], rest[:n], rest[n:]
	return out, nil
}

// macInput is what the SKEY MACs for a tenant key blob of version v.
func macInput(v byte, tenantID string, signed []byte) []byte {
	domain := tenantKeyDomain
	if v == tenantKeyVersion1 {
		domain = tenantKeyDomain1
	}
	b := make([]byte, 0, len(domain)+1+4+len(tenantID)+len(signed))
	b = append(b, domain...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenantID)))
	b = append(b, tenantID...)
	return append(b, signed...)
}

// kekCacheKey names an unwrapped tenant KEK in the cache. It covers the
// tenant ID as well as the blob: the MAC was verified for this pair only,
// and a blob presented under another tenant must be verified (and fail).
func kekCacheKey(k backend.TenantKey) [sha256.Size]byte {
	// Every Open and Seal looks its KEK up: built on the stack for the
	// usual sizes, hashed in one call, so that the lookup allocates nothing.
	var buf [256]byte
	b := binary.BigEndian.AppendUint32(buf[:0], uint32(len(k.TenantID)))
	b = append(b, k.TenantID...)
	b = append(b, k.Blob...)
	return sha256.Sum256(b)
}
