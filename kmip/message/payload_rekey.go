package message

import "github.com/gemalto/kmip-go/ttlv"

// ReKeyRequest is the Re-key payload (KMIP 1.4 section 4.4): replace a
// symmetric key by a new one. Offset (an Interval, in seconds) sets when
// the new key becomes active and the old one stops.
type ReKeyRequest struct {
	UniqueIdentifier  UniqueID
	Offset            ttlv.TTLV
	TemplateAttribute ttlv.TTLV
	Attributes        ttlv.TTLV
}

// ReKeyResponse answers Re-key with the replacement key's identifier.
type ReKeyResponse struct {
	UniqueIdentifier string
}

// Link is the Link attribute's structure (KMIP 1.4 section 3.35).
type Link struct {
	LinkType               uint32 `ttlv:",enum"`
	LinkedObjectIdentifier string
}
