package message

import "github.com/gemalto/kmip-go/ttlv"

// CreateRequest is the Create payload (KMIP 1.4 section 4.1, 2.1 section
// 6.1.8). 1.x clients send TemplateAttribute, 2.x clients Attributes;
// Decode them with DecodeAttributes.
type CreateRequest struct {
	ObjectType        ObjectType
	TemplateAttribute ttlv.TTLV
	Attributes        ttlv.TTLV
}

// CreateResponse answers Create.
type CreateResponse struct {
	ObjectType       ObjectType
	UniqueIdentifier string
}
