package hpcs

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// A tenant key blob (backend.TenantKey.Blob) of this backend, version 1:
//
//	magic "HPCSKEK" | version 0x01
//	u16 length | root key id          the KMS root key that wrapped the KEK
//	u16 length | root key version id  the version that wrapped it (from the
//	                                  wrap answer; checked against the
//	                                  version the KMS unwraps with)
//	u32 length | KMS ciphertext       as the KMS returned it (opaque text)
//
// There is no MAC of our own: the KMS ciphertext is authenticated
// encryption whose additional data (kekAAD) binds it to the tenant and
// the root key id, so a blob changed in the ciphertext or moved to
// another tenant fails to unwrap (422 UNPROCESSABLE_CIPHERTEXT_ERR, which
// is backend.ErrIntegrity), and a changed version id fails the check
// against the KMS's answer.
const (
	blobMagic   = "HPCSKEK"
	blobVersion = 1
	maxField    = 1 << 16
)

type tenantBlob struct {
	rootKeyID  string
	keyVersion string
	ciphertext string
}

func (b tenantBlob) encode() ([]byte, error) {
	if len(b.rootKeyID) >= maxField || len(b.keyVersion) >= maxField || len(b.ciphertext) >= 1<<24 {
		return nil, errors.New("hpcs: tenant key blob field too long")
	}
	out := append([]byte(blobMagic), blobVersion)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.rootKeyID)))
	out = append(out, b.rootKeyID...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.keyVersion)))
	out = append(out, b.keyVersion...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.ciphertext)))
	return append(out, b.ciphertext...), nil
}

// parseBlob reads a blob; anything malformed is backend.ErrIntegrity.
func parseBlob(p []byte) (tenantBlob, error) {
	bad := func(why string) (tenantBlob, error) {
		return tenantBlob{}, fmt.Errorf("hpcs: tenant key blob %s: %w", why, backend.ErrIntegrity)
	}
	if len(p) < len(blobMagic)+1 || string(p[:len(blobMagic)]) != blobMagic {
		return bad("is not an hpcs tenant key")
	}
	if p[len(blobMagic)] != blobVersion {
		return bad(fmt.Sprintf("has unknown version %d", p[len(blobMagic)]))
	}
	p = p[len(blobMagic)+1:]
	field := func(width int) (string, bool) {
		if len(p) < width {
			return "", false
		}
		var n int
		if width == 2 {
			n = int(binary.BigEndian.Uint16(p))
		} else {
			n = int(binary.BigEndian.Uint32(p))
		}
		p = p[width:]
		if n == 0 || len(p) < n {
			return "", false
		}
		v := string(p[:n])
		p = p[n:]
		return v, true
	}
	var b tenantBlob
	var ok1, ok2, ok3 bool
	b.rootKeyID, ok1 = field(2)
	b.keyVersion, ok2 = field(2)
	b.ciphertext, ok3 = field(4)
	if !ok1 || !ok2 || !ok3 || len(p) != 0 {
		return bad("is truncated or has trailing bytes")
	}
	return b, nil
}

// kekAAD is the additional authenticated data of a tenant KEK's wrap: it
// names what the ciphertext is, whose it is, and under which root key.
func kekAAD(tenantID, rootKeyID string) []string {
	return []string{"kmip-adapter tenant KEK v1", "tenant=" + tenantID, "root-key=" + rootKeyID}
}
