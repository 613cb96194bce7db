package kmiptest

import (
	"bytes"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// KeyBlock is a Key Block as a client encodes it: KeyMaterial is a []byte
// (Raw, Opaque, PKCS#1, PKCS#8, X.509...), a struct with ttlv field tags
// (the Transparent formats, e.g. struct{ Modulus, PublicExponent
// *big.Int }) or a ttlv.TTLV item tagged Key Material.
type KeyBlock struct {
	KeyFormatType          kmip14.KeyFormatType
	KeyValue               KeyValue
	CryptographicAlgorithm kmip14.CryptographicAlgorithm `ttlv:",omitempty"`
	CryptographicLength    int32                         `ttlv:",omitempty"`
	KeyWrappingData        any                           `ttlv:",omitempty"`
}

// KeyValue is a Key Value structure.
type KeyValue struct {
	KeyMaterial any
}

// Register builds a Register payload in the form of version v: the object
// type, the attributes (a 1.x TemplateAttribute or 2.x Attributes, present
// even when empty) and object, any struct with ttlv field tags (e.g.
// struct{ KeyBlock KeyBlock }), encoded under the tag of object type t.
func Register(v message.Version, t kmip14.ObjectType, object any, attrs ...Attr1) ttlv.TTLV {
	return RegisterAs(v, t, t, object, attrs...)
}

// RegisterAs is Register with the object encoded under the tag of object
// type as, which may differ from the Object Type t the payload claims.
func RegisterAs(v message.Version, t, as kmip14.ObjectType, object any, attrs ...Attr1) ttlv.TTLV {
	var attributes ttlv.TTLV
	if v.AtLeast(message.V2_0) {
		attributes = Attributes2(attrs...)
	} else {
		b, err := ttlv.Marshal(struct {
			TTLVTag   struct{} `ttlv:"TemplateAttribute"`
			Attribute []Attr1
		}{Attribute: attrs})
		if err != nil {
			panic(err)
		}
		attributes = b
	}
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	if err := e.EncodeValue(objectTags[as], object); err != nil {
		panic(err)
	}
	if err := e.Flush(); err != nil {
		panic(err)
	}
	b, err := ttlv.Marshal(struct {
		TTLVTag    struct{} `ttlv:"RequestPayload"`
		ObjectType kmip14.ObjectType
		Attributes ttlv.TTLV
		Object     ttlv.TTLV
	}{ObjectType: t, Attributes: attributes, Object: buf.Bytes()})
	if err != nil {
		panic(err)
	}
	return b
}

var objectTags = map[kmip14.ObjectType]ttlv.Tag{
	kmip14.ObjectTypeCertificate:  kmip14.TagCertificate,
	kmip14.ObjectTypeSymmetricKey: kmip14.TagSymmetricKey,
	kmip14.ObjectTypePublicKey:    kmip14.TagPublicKey,
	kmip14.ObjectTypePrivateKey:   kmip14.TagPrivateKey,
	kmip14.ObjectTypeSplitKey:     kmip14.TagSplitKey,
	kmip14.ObjectTypeTemplate:     kmip14.TagTemplate,
	kmip14.ObjectTypeSecretData:   kmip14.TagSecretData,
	kmip14.ObjectTypeOpaqueObject: kmip14.TagOpaqueObject,
}

// Get is a Get payload for id in format f (0: the default).
func Get(id string, f kmip14.KeyFormatType) any {
	return struct {
		UniqueIdentifier string
		KeyFormatType    kmip14.KeyFormatType `ttlv:",omitempty"`
	}{id, f}
}

// GotKeyBlock is a Key Block as a Get response carries it, the Key
// Material kept raw.
type GotKeyBlock struct {
	KeyFormatType          kmip14.KeyFormatType
	KeyValue               ttlv.TTLV
	CryptographicAlgorithm kmip14.CryptographicAlgorithm
	CryptographicLength    int32
}

// Material returns the Key Material item of the Key Value, and how many
// items the Key Value holds (1 when it has no attributes).
func (b GotKeyBlock) Material() (material ttlv.TTLV, items int) {
	for c := b.KeyValue.ValueStructure(); len(c) >= 8; c = c[c.FullLen():] {
		items++
		if c.Tag() == kmip14.TagKeyMaterial {
			material = c[:c.FullLen()]
		}
	}
	return material, items
}

// GetResponse is a decoded Get response payload.
type GetResponse struct {
	ObjectType       kmip14.ObjectType
	UniqueIdentifier string
	SymmetricKey     *struct{ KeyBlock GotKeyBlock }
	PublicKey        *struct{ KeyBlock GotKeyBlock }
	PrivateKey       *struct{ KeyBlock GotKeyBlock }
	SecretData       *struct {
		SecretDataType kmip14.SecretDataType
		KeyBlock       GotKeyBlock
	}
	Certificate *struct {
		CertificateType  kmip14.CertificateType
		CertificateValue []byte
	}
	OpaqueObject *struct {
		OpaqueDataType  kmip14.OpaqueDataType
		OpaqueDataValue []byte
	}
	Template ttlv.TTLV
}

// KeyBlock returns the Key Block of whichever key object the response
// holds (nil if none).
func (r GetResponse) KeyBlock() *GotKeyBlock {
	switch {
	case r.SymmetricKey != nil:
		return &r.SymmetricKey.KeyBlock
	case r.PublicKey != nil:
		return &r.PublicKey.KeyBlock
	case r.PrivateKey != nil:
		return &r.PrivateKey.KeyBlock
	case r.SecretData != nil:
		return &r.SecretData.KeyBlock
	}
	return nil
}
