package object

import (
	"encoding/binary"
)

// AdditionalData is the authenticated data that seals key material to its
// object: tenant, Unique Identifier, Object Type, Cryptographic Algorithm
// and Length. Moving a sealed blob to another object or tenant, or changing
// those immutable attributes in the store, makes Open fail.
func AdditionalData(tenantID, id string, objectType, algorithm uint32, length int32) []byte {
	b := []byte("kmip-adapter/material/v1")
	for _, s := range []string{tenantID, id} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint32(b, objectType)
	b = binary.BigEndian.AppendUint32(b, algorithm)
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	return b
}
