package message

import (
	"bytes"
	"encoding/binary"
	"math/big"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
)

// The managed object structures (KMIP 1.4 section 2.2, 2.1 section 2.2),
// as Register receives them and Get returns them. A Template (1.x only) is
// a list of Attribute items and travels as raw TTLV (see EncodeAttributes).

// SymmetricKey is the Symmetric Key object (KMIP 1.4 section 2.2.2).
type SymmetricKey struct {
	KeyBlock KeyBlock
}

// PublicKey is the Public Key object (KMIP 1.4 section 2.2.3).
type PublicKey struct {
	KeyBlock KeyBlock
}

// PrivateKey is the Private Key object (KMIP 1.4 section 2.2.4).
type PrivateKey struct {
	KeyBlock KeyBlock
}

// SecretData is the Secret Data object (KMIP 1.4 section 2.2.7): a
// password, a seed... in a Key Block of format Raw or Opaque.
type SecretData struct {
	SecretDataType kmip14.SecretDataType
	KeyBlock       KeyBlock
}

// Certificate is the Certificate object (KMIP 1.4 section 2.2.1).
type Certificate struct {
	CertificateType  kmip14.CertificateType
	CertificateValue []byte
}

// OpaqueObject is the Opaque Object (KMIP 1.4 section 2.2.8). Its data
// type is often a vendor extension value (0x8XXXXXXX).
type OpaqueObject struct {
	OpaqueDataType  kmip14.OpaqueDataType
	OpaqueDataValue []byte
}

// KeyBlock is the Key Block (KMIP 1.4 section 2.1.3).
//
// KeyValue is kept as a raw item: a client may send it as a Byte String
// (wrapped, with Key Wrapping Data) or as a structure, and the structure
// may carry attributes besides the Key Material. Material reads what a
// client sent; NewKeyValue builds the structure a response carries, which
// holds the Key Material only: KMIP 1.x Get never puts attributes inside
// the Key Value.
type KeyBlock struct {
	KeyFormatType          kmip14.KeyFormatType
	KeyCompressionType     kmip14.KeyCompressionType `ttlv:",omitempty"`
	KeyValue               ttlv.TTLV
	CryptographicAlgorithm kmip14.CryptographicAlgorithm `ttlv:",omitempty"`
	CryptographicLength    int32                         `ttlv:",omitempty"`
	KeyWrappingData        ttlv.TTLV                     `ttlv:",omitempty"`
}

// Material returns the Key Material item of a Key Value a client sent:
// a Byte String for the Raw, Opaque, PKCS#1, PKCS#8, X.509 and EC Private
// Key formats, a structure for the Transparent formats. A Key Value that
// is a Byte String (a wrapped key) or that carries attributes is refused.
func (b KeyBlock) Material() (ttlv.TTLV, error) {
	if len(b.KeyValue) == 0 {
		return nil, Errorf(kmip20.ResultReasonMissingData, "the Key Block has no Key Value")
	}
	if b.KeyValue.Type() != ttlv.TypeStructure {
		return nil, Errorf(kmip20.ResultReasonInvalidField, "a Key Value of type %s is a wrapped key, but the Key Block has no Key Wrapping Data", b.KeyValue.Type())
	}
	var material ttlv.TTLV
	for _, c := range attr.Children(b.KeyValue) {
		switch c.Tag() {
		case kmip14.TagKeyMaterial:
			if material != nil {
				return nil, Errorf(kmip20.ResultReasonInvalidField, "the Key Value holds more than one Key Material")
			}
			material = c
		case kmip14.TagAttribute, kmip20.TagAttributes:
			return nil, Errorf(kmip20.ResultReasonFeatureNotSupported, "attributes inside the Key Value are not supported; send them with the request's attributes")
		default:
			return nil, Errorf(kmip20.ResultReasonInvalidField, "unexpected %s in the Key Value", c.Tag())
		}
	}
	if material == nil {
		return nil, Errorf(kmip20.ResultReasonMissingData, "the Key Value has no Key Material")
	}
	return material, nil
}

// NewKeyValue builds a Key Value structure holding only the Key Material
// item material (see KeyMaterialBytes and EncodeKeyMaterial).
func NewKeyValue(material ttlv.TTLV) ttlv.TTLV {
	return attr.Structure(kmip14.TagKeyValue, material)
}

// KeyMaterialBytes builds a Key Material item of type Byte String (empty
// when b is).
func KeyMaterialBytes(b []byte) ttlv.TTLV {
	tag := kmip14.TagKeyMaterial
	out := make(ttlv.TTLV, 8+(len(b)+7)/8*8)
	out[0], out[1], out[2], out[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeByteString)
	binary.BigEndian.PutUint32(out[4:], uint32(len(b)))
	copy(out[8:], b)
	return out
}

// EncodeKeyMaterial encodes a Transparent key structure (one of the
// Transparent* types) as a Key Material item.
func EncodeKeyMaterial(v any) (ttlv.TTLV, error) {
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	if err := e.EncodeValue(kmip14.TagKeyMaterial, v); err != nil {
		return nil, err
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The Transparent key structures (KMIP 1.4 section 2.1.7). Optional fields
// are pointers, absent when nil.

// TransparentSymmetricKey is the Transparent Symmetric Key (2.1.7.1).
type TransparentSymmetricKey struct {
	Key []byte
}

// TransparentDSAPrivateKey is the Transparent DSA Private Key (2.1.7.2).
type TransparentDSAPrivateKey struct {
	P, Q, G, X *big.Int
}

// TransparentDSAPublicKey is the Transparent DSA Public Key (2.1.7.3).
type TransparentDSAPublicKey struct {
	P, Q, G, Y *big.Int
}

// TransparentRSAPrivateKey is the Transparent RSA Private Key (2.1.7.4).
// The specification wants the Modulus, but clients (and the OASIS test
// vectors) also send the CRT form without it.
type TransparentRSAPrivateKey struct {
	Modulus         *big.Int `ttlv:",omitempty"`
	PrivateExponent *big.Int `ttlv:",omitempty"`
	PublicExponent  *big.Int `ttlv:",omitempty"`
	P               *big.Int `ttlv:",omitempty"`
	Q               *big.Int `ttlv:",omitempty"`
	PrimeExponentP  *big.Int `ttlv:",omitempty"`
	PrimeExponentQ  *big.Int `ttlv:",omitempty"`
	CRTCoefficient  *big.Int `ttlv:",omitempty"`
}

// TransparentRSAPublicKey is the Transparent RSA Public Key (2.1.7.5).
type TransparentRSAPublicKey struct {
	Modulus        *big.Int
	PublicExponent *big.Int
}

// TransparentECPrivateKey is the Transparent EC Private Key (KMIP 1.3 on,
// 1.4 section 2.1.7.14).
type TransparentECPrivateKey struct {
	RecommendedCurve kmip14.RecommendedCurve
	D                *big.Int
}

// TransparentECPublicKey is the Transparent EC Public Key (KMIP 1.3 on,
// 1.4 section 2.1.7.15): Q String is the uncompressed point.
type TransparentECPublicKey struct {
	RecommendedCurve kmip14.RecommendedCurve
	QString          []byte
}
