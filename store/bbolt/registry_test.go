package bbolt

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Tenant records written before tenant settings existed (version 1) read
// as tenants without settings; they are written back as version 2.
func TestTenantRecordVersion1(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v1 := []byte{1}
	v1 = binary.AppendUvarint(v1, 7)
	v1 = binary.AppendVarint(v1, at.UnixNano())
	v1 = binary.AppendVarint(v1, at.UnixNano())
	v1 = appendBytes(v1, []byte("pkcs11"))
	v1 = appendBytes(v1, []byte{9, 9})
	got, err := decodeTenant("old", v1)
	require.NoError(t, err)
	assert.Equal(t, &store.Tenant{ID: "old", Backend: "pkcs11", KeyBlob: []byte{9, 9}, Revision: 7, CreatedAt: at, UpdatedAt: at}, got)

	got.Status = store.TenantEnabled
	got.Policy.AllowedOperations = []string{"Get"}
	v2 := encodeTenant(got)
	assert.Equal(t, byte(2), v2[0])
	back, err := decodeTenant("old", v2)
	require.NoError(t, err)
	assert.Equal(t, got, back)

	_, err = decodeTenant("old", append([]byte{3}, v1[1:]...))
	assert.ErrorIs(t, err, errCorrupt, "an unknown version is refused")
}
