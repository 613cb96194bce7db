package message

import (
	"github.com/gemalto/kmip-go/kmip14"
)

// Payloads of the cryptographic services (KMIP 1.4 sections 4.29 to 4.38,
// 2.1 sections 6.1.17 to 6.1.50): Encrypt, Decrypt, Sign, Signature
// Verify, MAC, MAC Verify, Hash, RNG Retrieve and RNG Seed. The multi-part
// fields (Correlation Value, Init Indicator, Final Indicator) exist from
// KMIP 1.3 on; an older client never sends them and never receives one.

// CryptographicParameters is the Cryptographic Parameters structure (KMIP
// 1.4 section 3.6, 2.1 section 7.6): the same in every version, every field
// optional. A zero field is absent.
type CryptographicParameters struct {
	BlockCipherMode               kmip14.BlockCipherMode           `ttlv:",omitempty"`
	PaddingMethod                 kmip14.PaddingMethod             `ttlv:",omitempty"`
	HashingAlgorithm              kmip14.HashingAlgorithm          `ttlv:",omitempty"`
	KeyRoleType                   kmip14.KeyRoleType               `ttlv:",omitempty"`
	DigitalSignatureAlgorithm     kmip14.DigitalSignatureAlgorithm `ttlv:",omitempty"`
	CryptographicAlgorithm        kmip14.CryptographicAlgorithm    `ttlv:",omitempty"`
	RandomIV                      bool                             `ttlv:",omitempty"`
	IVLength                      int32                            `ttlv:",omitempty"`
	TagLength                     int32                            `ttlv:",omitempty"`
	FixedFieldLength              int32                            `ttlv:",omitempty"`
	InvocationFieldLength         int32                            `ttlv:",omitempty"`
	CounterLength                 int32                            `ttlv:",omitempty"`
	InitialCounterValue           int32                            `ttlv:",omitempty"`
	SaltLength                    int32                            `ttlv:",omitempty"`
	MaskGenerator                 kmip14.MaskGenerator             `ttlv:",omitempty"`
	MaskGeneratorHashingAlgorithm kmip14.HashingAlgorithm          `ttlv:",omitempty"`
	PSource                       []byte                           `ttlv:",omitempty"`
	TrailerField                  int32                            `ttlv:",omitempty"`
}

// Merge returns p with every field that over sets replaced by over's
// value: the request's parameters over the key's attribute.
func (p CryptographicParameters) Merge(over CryptographicParameters) CryptographicParameters {
	set := func(dst *uint32, v uint32) {
		if v != 0 {
			*dst = v
		}
	}
	seti := func(dst *int32, v int32) {
		if v != 0 {
			*dst = v
		}
	}
	m := p
	set((*uint32)(&m.BlockCipherMode), uint32(over.BlockCipherMode))
	set((*uint32)(&m.PaddingMethod), uint32(over.PaddingMethod))
	set((*uint32)(&m.HashingAlgorithm), uint32(over.HashingAlgorithm))
	set((*uint32)(&m.KeyRoleType), uint32(over.KeyRoleType))
	set((*uint32)(&m.DigitalSignatureAlgorithm), uint32(over.DigitalSignatureAlgorithm))
	set((*uint32)(&m.CryptographicAlgorithm), uint32(over.CryptographicAlgorithm))
	set((*uint32)(&m.MaskGenerator), uint32(over.MaskGenerator))
	set((*uint32)(&m.MaskGeneratorHashingAlgorithm), uint32(over.MaskGeneratorHashingAlgorithm))
	seti(&m.IVLength, over.IVLength)
	seti(&m.TagLength, over.TagLength)
	seti(&m.FixedFieldLength, over.FixedFieldLength)
	seti(&m.InvocationFieldLength, over.InvocationFieldLength)
	seti(&m.CounterLength, over.CounterLength)
	seti(&m.InitialCounterValue, over.InitialCounterValue)
	seti(&m.SaltLength, over.SaltLength)
	seti(&m.TrailerField, over.TrailerField)
	if over.RandomIV {
		m.RandomIV = true
	}
	if over.PSource != nil {
		m.PSource = over.PSource
	}
	return m
}

// EncryptRequest is the Encrypt payload (KMIP 1.4 section 4.29).
type EncryptRequest struct {
	UniqueIdentifier                      UniqueID
	CryptographicParameters               *CryptographicParameters `ttlv:",omitempty"`
	Data                                  []byte                   `ttlv:",omitempty"`
	IVCounterNonce                        []byte                   `ttlv:",omitempty"`
	CorrelationValue                      []byte                   `ttlv:",omitempty"`
	InitIndicator                         bool                     `ttlv:",omitempty"`
	FinalIndicator                        bool                     `ttlv:",omitempty"`
	AuthenticatedEncryptionAdditionalData []byte                   `ttlv:",omitempty"`
}

// EncryptResponse answers Encrypt.
type EncryptResponse struct {
	UniqueIdentifier           string
	Data                       []byte
	IVCounterNonce             []byte `ttlv:",omitempty"`
	CorrelationValue           []byte `ttlv:",omitempty"`
	AuthenticatedEncryptionTag []byte `ttlv:",omitempty"`
}

// DecryptRequest is the Decrypt payload (KMIP 1.4 section 4.30).
type DecryptRequest struct {
	UniqueIdentifier                      UniqueID
	CryptographicParameters               *CryptographicParameters `ttlv:",omitempty"`
	Data                                  []byte                   `ttlv:",omitempty"`
	IVCounterNonce                        []byte                   `ttlv:",omitempty"`
	CorrelationValue                      []byte                   `ttlv:",omitempty"`
	InitIndicator                         bool                     `ttlv:",omitempty"`
	FinalIndicator                        bool                     `ttlv:",omitempty"`
	AuthenticatedEncryptionAdditionalData []byte                   `ttlv:",omitempty"`
	AuthenticatedEncryptionTag            []byte                   `ttlv:",omitempty"`
}

// DecryptResponse answers Decrypt.
type DecryptResponse struct {
	UniqueIdentifier string
	Data             []byte
	CorrelationValue []byte `ttlv:",omitempty"`
}

// SignRequest is the Sign payload (KMIP 1.4 section 4.31). Digested Data
// is data the client already hashed.
type SignRequest struct {
	UniqueIdentifier        UniqueID
	CryptographicParameters *CryptographicParameters `ttlv:",omitempty"`
	Data                    []byte                   `ttlv:",omitempty"`
	DigestedData            []byte                   `ttlv:",omitempty"`
	CorrelationValue        []byte                   `ttlv:",omitempty"`
	InitIndicator           bool                     `ttlv:",omitempty"`
	FinalIndicator          bool                     `ttlv:",omitempty"`
}

// SignResponse answers Sign.
type SignResponse struct {
	UniqueIdentifier string
	SignatureData    []byte `ttlv:",omitempty"`
	CorrelationValue []byte `ttlv:",omitempty"`
}

// SignatureVerifyRequest is the Signature Verify payload (KMIP 1.4
// section 4.32).
type SignatureVerifyRequest struct {
	UniqueIdentifier        UniqueID
	CryptographicParameters *CryptographicParameters `ttlv:",omitempty"`
	Data                    []byte                   `ttlv:",omitempty"`
	DigestedData            []byte                   `ttlv:",omitempty"`
	SignatureData           []byte                   `ttlv:",omitempty"`
	CorrelationValue        []byte                   `ttlv:",omitempty"`
	InitIndicator           bool                     `ttlv:",omitempty"`
	FinalIndicator          bool                     `ttlv:",omitempty"`
}

// SignatureVerifyResponse answers Signature Verify. The Validity
// Indicator is absent from the answer to a part that is not the last.
type SignatureVerifyResponse struct {
	UniqueIdentifier  string
	ValidityIndicator kmip14.ValidityIndicator `ttlv:",omitempty"`
	Data              []byte                   `ttlv:",omitempty"`
	CorrelationValue  []byte                   `ttlv:",omitempty"`
}

// MACRequest is the MAC payload (KMIP 1.4 section 4.33).
type MACRequest struct {
	UniqueIdentifier        UniqueID
	CryptographicParameters *CryptographicParameters `ttlv:",omitempty"`
	Data                    []byte                   `ttlv:",omitempty"`
	CorrelationValue        []byte                   `ttlv:",omitempty"`
	InitIndicator           bool                     `ttlv:",omitempty"`
	FinalIndicator          bool                     `ttlv:",omitempty"`
}

// MACResponse answers MAC.
type MACResponse struct {
	UniqueIdentifier string
	MACData          []byte `ttlv:"MACData,omitempty"`
	CorrelationValue []byte `ttlv:",omitempty"`
}

// MACVerifyRequest is the MAC Verify payload (KMIP 1.4 section 4.34).
type MACVerifyRequest struct {
	UniqueIdentifier        UniqueID
	CryptographicParameters *CryptographicParameters `ttlv:",omitempty"`
	Data                    []byte                   `ttlv:",omitempty"`
	MACData                 []byte                   `ttlv:"MACData,omitempty"`
	CorrelationValue        []byte                   `ttlv:",omitempty"`
	InitIndicator           bool                     `ttlv:",omitempty"`
	FinalIndicator          bool                     `ttlv:",omitempty"`
}

// MACVerifyResponse answers MAC Verify.
type MACVerifyResponse struct {
	UniqueIdentifier  string
	ValidityIndicator kmip14.ValidityIndicator `ttlv:",omitempty"`
	CorrelationValue  []byte                   `ttlv:",omitempty"`
}

// HashRequest is the Hash payload (KMIP 1.4 section 4.37): no object.
type HashRequest struct {
	CryptographicParameters *CryptographicParameters `ttlv:",omitempty"`
	Data                    []byte                   `ttlv:",omitempty"`
	CorrelationValue        []byte                   `ttlv:",omitempty"`
	InitIndicator           bool                     `ttlv:",omitempty"`
	FinalIndicator          bool                     `ttlv:",omitempty"`
}

// HashResponse answers Hash with the digest (after the last part).
type HashResponse struct {
	Data             []byte `ttlv:",omitempty"`
	CorrelationValue []byte `ttlv:",omitempty"`
}

// RNGRetrieveRequest is the RNG Retrieve payload (KMIP 1.4 section 4.35).
type RNGRetrieveRequest struct {
	DataLength int32
}

// RNGRetrieveResponse answers RNG Retrieve with the random bytes.
type RNGRetrieveResponse struct {
	Data []byte
}

// RNGSeedRequest is the RNG Seed payload (KMIP 1.4 section 4.36).
type RNGSeedRequest struct {
	Data []byte
}

// RNGSeedResponse says how many bytes of the seed the server used.
type RNGSeedResponse struct {
	DataLength int32
}
