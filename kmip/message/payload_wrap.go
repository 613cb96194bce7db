package message

import (
	"encoding/binary"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// Key wrapping structures (KMIP 1.4 sections 2.1.5 and 2.1.6, 2.1 sections
// 2.1.10 and 2.1.11): how a client asks for a key wrapped under another
// managed key (Get, Export), and how a wrapped Key Block says what wrapped
// it (Register, Import).

// KeyInformation names a managed key that encrypts or MACs/signs a
// wrapped key (Encryption Key Information, MAC/Signature Key
// Information).
type KeyInformation struct {
	UniqueIdentifier        string
	CryptographicParameters *CryptographicParameters `ttlv:",omitempty"`
}

// KeyWrappingSpecification is the Key Wrapping Specification of a Get or
// Export request.
type KeyWrappingSpecification struct {
	WrappingMethod             kmip14.WrappingMethod
	EncryptionKeyInformation   *KeyInformation       `ttlv:",omitempty"`
	MACSignatureKeyInformation *KeyInformation       `ttlv:"MACSignatureKeyInformation,omitempty"`
	AttributeName              []string              `ttlv:",omitempty"`
	EncodingOption             kmip14.EncodingOption `ttlv:",omitempty"`
}

// KeyWrappingData is the Key Wrapping Data of a wrapped Key Block.
type KeyWrappingData struct {
	WrappingMethod             kmip14.WrappingMethod
	EncryptionKeyInformation   *KeyInformation       `ttlv:",omitempty"`
	MACSignatureKeyInformation *KeyInformation       `ttlv:"MACSignatureKeyInformation,omitempty"`
	MACSignature               []byte                `ttlv:"MACSignature,omitempty"`
	IVCounterNonce             []byte                `ttlv:",omitempty"`
	EncodingOption             kmip14.EncodingOption `ttlv:",omitempty"`
}

// WrappedKeyValue builds the Key Value of a wrapped Key Block: a Byte
// String holding the wrapped bytes.
func WrappedKeyValue(b []byte) ttlv.TTLV {
	tag := kmip14.TagKeyValue
	out := make(ttlv.TTLV, 8+(len(b)+7)/8*8)
	out[0], out[1], out[2], out[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeByteString)
	binary.BigEndian.PutUint32(out[4:], uint32(len(b)))
	copy(out[8:], b)
	return out
}
