package message

import "github.com/gemalto/kmip-go/ttlv"

// CreateKeyPairRequest is the Create Key Pair payload (KMIP 1.4 section
// 4.2, 2.1 section 6.1.9): attributes common to both keys and for each
// one, as 1.x Template-Attributes or 2.x Attributes structures.
type CreateKeyPairRequest struct {
	CommonTemplateAttribute     ttlv.TTLV
	PrivateKeyTemplateAttribute ttlv.TTLV
	PublicKeyTemplateAttribute  ttlv.TTLV
	CommonAttributes            ttlv.TTLV
	PrivateKeyAttributes        ttlv.TTLV
	PublicKeyAttributes         ttlv.TTLV
}

// CreateKeyPairResponse answers Create Key Pair.
type CreateKeyPairResponse struct {
	PrivateKeyUniqueIdentifier string
	PublicKeyUniqueIdentifier  string
}
