package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// ExportResponse answers Export (KMIP 2.0 section 6.1.20): the object as
// Get returns it, with its attributes. Export's request is Get's.
type ExportResponse struct {
	ObjectType       ObjectType
	UniqueIdentifier string
	Attributes       ttlv.TTLV
	Certificate      *Certificate  `ttlv:",omitempty"`
	SymmetricKey     *SymmetricKey `ttlv:",omitempty"`
	PublicKey        *PublicKey    `ttlv:",omitempty"`
	PrivateKey       *PrivateKey   `ttlv:",omitempty"`
	SecretData       *SecretData   `ttlv:",omitempty"`
	OpaqueObject     *OpaqueObject `ttlv:",omitempty"`
}

// ImportRequest is the Import payload (KMIP 2.0 section 6.1.24): an object
// with the Unique Identifier it had where it was exported, its
// attributes, and whether it may replace an object of that identifier.
type ImportRequest struct {
	UniqueIdentifier string
	ObjectType       ObjectType
	ReplaceExisting  bool               `ttlv:",omitempty"`
	KeyWrapType      kmip14.KeyWrapType `ttlv:",omitempty"`
	Attributes       ttlv.TTLV
	Certificate      ttlv.TTLV
	SymmetricKey     ttlv.TTLV
	PublicKey        ttlv.TTLV
	PrivateKey       ttlv.TTLV
	SplitKey         ttlv.TTLV
	SecretData       ttlv.TTLV
	OpaqueObject     ttlv.TTLV
	PGPKey           ttlv.TTLV
}

// Register is the Register request that makes the imported object.
func (r *ImportRequest) Register(attributes ttlv.TTLV) RegisterRequest {
	return RegisterRequest{
		ObjectType: r.ObjectType, Attributes: attributes,
		Certificate: r.Certificate, SymmetricKey: r.SymmetricKey, PublicKey: r.PublicKey, PrivateKey: r.PrivateKey,
		SplitKey: r.SplitKey, SecretData: r.SecretData, OpaqueObject: r.OpaqueObject, PGPKey: r.PGPKey,
	}
}

// ImportResponse answers Import.
type ImportResponse struct {
	UniqueIdentifier string
}
