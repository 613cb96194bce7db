package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// GetRequest is the Get payload (KMIP 1.4 section 4.11, 2.1 section
// 6.1.22).
type GetRequest struct {
	UniqueIdentifier         UniqueID
	KeyFormatType            kmip14.KeyFormatType
	KeyWrapType              kmip14.KeyWrapType
	KeyCompressionType       kmip14.KeyCompressionType
	KeyWrappingSpecification ttlv.TTLV
}

// GetResponse answers Get with exactly one of the object fields set. A
// Template (1.x only) is the raw Template structure of Attribute items.
type GetResponse struct {
	ObjectType       ObjectType
	UniqueIdentifier string
	Certificate      *Certificate  `ttlv:",omitempty"`
	SymmetricKey     *SymmetricKey `ttlv:",omitempty"`
	PublicKey        *PublicKey    `ttlv:",omitempty"`
	PrivateKey       *PrivateKey   `ttlv:",omitempty"`
	Template         ttlv.TTLV     `ttlv:",omitempty"`
	SecretData       *SecretData   `ttlv:",omitempty"`
	OpaqueObject     *OpaqueObject `ttlv:",omitempty"`
}
