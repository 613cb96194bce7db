package message

import "github.com/gemalto/kmip-go/ttlv"

// ReKeyKeyPairRequest is the Re-key Key Pair payload (KMIP 1.4 section
// 4.5, 2.1 section 6.1.43): replace an asymmetric key pair, named by its
// private key, by a new one. Offset works as in Re-key.
type ReKeyKeyPairRequest struct {
	PrivateKeyUniqueIdentifier  UniqueID
	Offset                      ttlv.TTLV
	CommonTemplateAttribute     ttlv.TTLV
	PrivateKeyTemplateAttribute ttlv.TTLV
	PublicKeyTemplateAttribute  ttlv.TTLV
	CommonAttributes            ttlv.TTLV
	PrivateKeyAttributes        ttlv.TTLV
	PublicKeyAttributes         ttlv.TTLV
}

// ReKeyKeyPairResponse answers Re-key Key Pair with the new pair.
type ReKeyKeyPairResponse struct {
	PrivateKeyUniqueIdentifier string
	PublicKeyUniqueIdentifier  string
}
