package pkcs11

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Tenant key blob (backend.TenantKey.Blob), version 1:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       2     L, length of the wrapped key, big endian
//	3       L     the tenant KEK (AES-256) wrapped by the MKEK with AES key
//	              wrap with padding (RFC 5649; 40 bytes for a 32-byte key)
//	3+L     rest  MAC by the SKEY: 16 bytes (AES-CMAC) or 32 (HMAC-SHA256)
//
// The MAC covers
//
//	"kmip-adapter/pkcs11/tenant-key/v1" 0x00
//	|| uint32 big endian len(tenantID) || tenantID
//	|| blob[0 : 3+L]
//
// so a blob moved to another tenant, or another use of the SKEY, fails.
// The domain string separates this use of the SKEY from any other MAC the
// adapter makes with it.
const (
	tenantKeyVersion = 0x01
	tenantKeyDomain  = "kmip-adapter/pkcs11/tenant-key/v1"
	tenantKeyHeader  = 3
)

// Sealed object key material (what Seal returns), version 1:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       12    AES-GCM IV, from C_GenerateRandom
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
	signed  []byte // blob[0 : 3+L]: what the MAC covers after the tenant
	wrapped []byte
	mac     []byte
}

// encodeTenantKey lays out the header and the wrapped key; the MAC is
// appended once it is made over macInput.
func encodeTenantKey(wrapped []byte) ([]byte, error) {
	if len(wrapped) == 0 || len(wrapped) > 0xFFFF {
		return nil, fmt.Errorf("wrapped key of %d bytes does not fit the blob", len(wrapped))
	}
	b := make([]byte, tenantKeyHeader, tenantKeyHeader+len(wrapped)+32)
	b[0] = tenantKeyVersion
	binary.BigEndian.PutUint16(b[1:], uint16(len(wrapped)))
	return append(b, wrapped...), nil
}

// parseTenantKey splits a blob. Any malformation is ErrIntegrity: the
// store holds only blobs we made, so a bad one was changed.
func parseTenantKey(b []byte) (tenantKeyBlob, error) {
	if len(b) < tenantKeyHeader {
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob is %d bytes", backend.ErrIntegrity, len(b))
	}
	if b[0] != tenantKeyVersion {
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob version 0x%02X is unknown", backend.ErrIntegrity, b[0])
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if n == 0 || len(b) <= tenantKeyHeader+n {
		return tenantKeyBlob{}, fmt.Errorf("%w: tenant key blob is truncated", backend.ErrIntegrity)
	}
	return tenantKeyBlob{
		signed:  b[:tenantKeyHeader+n],
		wrapped: b[tenantKeyHeader : tenantKeyHeader+n],
		mac:     b[tenantKeyHeader+n:],
	}, nil
}

// macInput is what the SKEY MACs for a tenant key blob.
func macInput(tenantID string, signed []byte) []byte {
	b := make([]byte, 0, len(tenantKeyDomain)+1+4+len(tenantID)+len(signed))
	b = append(b, tenantKeyDomain...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenantID)))
	b = append(b, tenantID...)
	return append(b, signed...)
}

// kekCacheKey names an unwrapped tenant KEK in the cache. It covers the
// tenant ID as well as the blob: the MAC was verified for this pair only,
// and a blob presented under another tenant must be verified (and fail).
func kekCacheKey(k backend.TenantKey) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(k.TenantID)))
	h.Write(n[:])
	h.Write([]byte(k.TenantID))
	h.Write(k.Blob)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
