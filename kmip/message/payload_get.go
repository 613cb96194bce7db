package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// GetRequest is the Get payload (KMIP 1.4 section 4.11).
type GetRequest struct {
	UniqueIdentifier         UniqueID
	KeyFormatType            kmip14.KeyFormatType
	KeyWrapType              kmip14.KeyWrapType
	KeyCompressionType       kmip14.KeyCompressionType
	KeyWrappingSpecification ttlv.TTLV
}

// GetResponse answers Get with exactly one of the object fields set.
type GetResponse struct {
	ObjectType       ObjectType
	UniqueIdentifier string
	SymmetricKey     *SymmetricKey `ttlv:",omitempty"`
}

// SymmetricKey is the Symmetric Key object (KMIP 1.4 section 2.2.2).
type SymmetricKey struct {
	KeyBlock KeyBlock
}

// KeyBlock is the Key Block (KMIP 1.4 section 2.1.3). KMIP 1.x Get must
// not put attributes inside the Key Value, so KeyValue holds the key
// material only.
type KeyBlock struct {
	KeyFormatType          kmip14.KeyFormatType
	KeyCompressionType     kmip14.KeyCompressionType `ttlv:",omitempty"`
	KeyValue               KeyValue
	CryptographicAlgorithm kmip14.CryptographicAlgorithm `ttlv:",omitempty"`
	CryptographicLength    int32                         `ttlv:",omitempty"`
}

// KeyValue holds Key Material: a byte string for Raw and Opaque formats,
// a structure for the Transparent formats.
type KeyValue struct {
	KeyMaterial any
}

// TransparentSymmetricKey is the Transparent Symmetric Key material
// (KMIP 1.4 section 2.1.7.1).
type TransparentSymmetricKey struct {
	Key []byte
}
