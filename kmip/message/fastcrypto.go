package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"

	tf "github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
)

// Hand-written TTLV for the cryptographic operations (Encrypt, Decrypt,
// Sign, Signature Verify, MAC, MAC Verify): their requests and answers,
// under the rules of fastcodec.go. A client that encrypts or signs
// through the server sends one of these per block of data, so the
// reflection codec's cost would be paid on every one.

// cryptoField is one of the fields the crypto requests share; each
// request knows a subset of them, and ignores the others' tags as the
// reflection decoder does.
type cryptoField uint16

const (
	cfParams cryptoField = 1 << iota
	cfData
	cfIV
	cfCorrelation
	cfInit
	cfFinal
	cfAAD
	cfTag
	cfDigested
	cfSignature
	cfMAC
)

// cryptoRequest holds the union of the crypto requests' fields while one
// of them is decoded.
type cryptoRequest struct {
	uid                                                  UniqueID
	params                                               *CryptographicParameters
	data, iv, correlation, aad, tag, digested, sig, macs []byte
	init, final                                          bool
}

// decodeCrypto reads item into r, for a request that knows the fields in
// known (and the Unique Identifier). A repeated Cryptographic Parameters
// is merged into the first, as the reflection decoder does.
func decodeCrypto(item ttlv.TTLV, known cryptoField, r *cryptoRequest) bool {
	out := *r
	if out.params != nil {
		p := *out.params
		out.params = &p
	}
	ok := fields(item, func(it tf.Item) bool {
		var f cryptoField
		var dst *[]byte
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.uid = UniqueID{raw: it.Copy()}
			return true
		case kmip14.TagCryptographicParameters:
			if known&cfParams == 0 {
				return true
			}
			if out.params == nil {
				out.params = &CryptographicParameters{}
			}
			return out.params.decodeFast(it.Raw)
		case kmip14.TagInitIndicator:
			if known&cfInit == 0 {
				return true
			}
			return readBool(it, &out.init)
		case kmip14.TagFinalIndicator:
			if known&cfFinal == 0 {
				return true
			}
			return readBool(it, &out.final)
		case kmip14.TagData:
			f, dst = cfData, &out.data
		case kmip14.TagIVCounterNonce:
			f, dst = cfIV, &out.iv
		case kmip14.TagCorrelationValue:
			f, dst = cfCorrelation, &out.correlation
		case kmip14.TagAuthenticatedEncryptionAdditionalData:
			f, dst = cfAAD, &out.aad
		case kmip14.TagAuthenticatedEncryptionTag:
			f, dst = cfTag, &out.tag
		case kmip14.TagDigestedData:
			f, dst = cfDigested, &out.digested
		case kmip14.TagSignatureData:
			f, dst = cfSignature, &out.sig
		case kmip14.TagMACData:
			f, dst = cfMAC, &out.macs
		default:
			return true
		}
		if known&f == 0 {
			return true
		}
		return readBytes(it, dst)
	})
	if ok {
		*r = out
	}
	return ok
}

func (p *CryptographicParameters) decodeFast(item ttlv.TTLV) bool {
	out := *p
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagBlockCipherMode:
			return readEnum(it, &out.BlockCipherMode)
		case kmip14.TagPaddingMethod:
			return readEnum(it, &out.PaddingMethod)
		case kmip14.TagHashingAlgorithm:
			return readEnum(it, &out.HashingAlgorithm)
		case kmip14.TagKeyRoleType:
			return readEnum(it, &out.KeyRoleType)
		case kmip14.TagDigitalSignatureAlgorithm:
			return readEnum(it, &out.DigitalSignatureAlgorithm)
		case kmip14.TagCryptographicAlgorithm:
			return readEnum(it, &out.CryptographicAlgorithm)
		case kmip14.TagRandomIV:
			return readBool(it, &out.RandomIV)
		case kmip14.TagIVLength:
			return readInt(it, &out.IVLength)
		case kmip14.TagTagLength:
			return readInt(it, &out.TagLength)
		case kmip14.TagFixedFieldLength:
			return readInt(it, &out.FixedFieldLength)
		case kmip14.TagInvocationFieldLength:
			return readInt(it, &out.InvocationFieldLength)
		case kmip14.TagCounterLength:
			return readInt(it, &out.CounterLength)
		case kmip14.TagInitialCounterValue:
			return readInt(it, &out.InitialCounterValue)
		case kmip14.TagSaltLength:
			return readInt(it, &out.SaltLength)
		case kmip14.TagMaskGenerator:
			return readEnum(it, &out.MaskGenerator)
		case kmip14.TagMaskGeneratorHashingAlgorithm:
			return readEnum(it, &out.MaskGeneratorHashingAlgorithm)
		case kmip14.TagPSource:
			return readBytes(it, &out.PSource)
		case kmip14.TagTrailerField:
			return readInt(it, &out.TrailerField)
		}
		return true
	})
	if ok {
		*p = out
	}
	return ok
}

func (r *EncryptRequest) decodeFast(item ttlv.TTLV) bool {
	c := cryptoRequest{uid: r.UniqueIdentifier, params: r.CryptographicParameters, data: r.Data, iv: r.IVCounterNonce,
		correlation: r.CorrelationValue, init: r.InitIndicator, final: r.FinalIndicator, aad: r.AuthenticatedEncryptionAdditionalData}
	if !decodeCrypto(item, cfParams|cfData|cfIV|cfCorrelation|cfInit|cfFinal|cfAAD, &c) {
		return false
	}
	*r = EncryptRequest{UniqueIdentifier: c.uid, CryptographicParameters: c.params, Data: c.data, IVCounterNonce: c.iv,
		CorrelationValue: c.correlation, InitIndicator: c.init, FinalIndicator: c.final, AuthenticatedEncryptionAdditionalData: c.aad}
	return true
}

func (r *DecryptRequest) decodeFast(item ttlv.TTLV) bool {
	c := cryptoRequest{uid: r.UniqueIdentifier, params: r.CryptographicParameters, data: r.Data, iv: r.IVCounterNonce,
		correlation: r.CorrelationValue, init: r.InitIndicator, final: r.FinalIndicator, aad: r.AuthenticatedEncryptionAdditionalData,
		tag: r.AuthenticatedEncryptionTag}
	if !decodeCrypto(item, cfParams|cfData|cfIV|cfCorrelation|cfInit|cfFinal|cfAAD|cfTag, &c) {
		return false
	}
	*r = DecryptRequest{UniqueIdentifier: c.uid, CryptographicParameters: c.params, Data: c.data, IVCounterNonce: c.iv,
		CorrelationValue: c.correlation, InitIndicator: c.init, FinalIndicator: c.final, AuthenticatedEncryptionAdditionalData: c.aad,
		AuthenticatedEncryptionTag: c.tag}
	return true
}

func (r *SignRequest) decodeFast(item ttlv.TTLV) bool {
	c := cryptoRequest{uid: r.UniqueIdentifier, params: r.CryptographicParameters, data: r.Data, digested: r.DigestedData,
		correlation: r.CorrelationValue, init: r.InitIndicator, final: r.FinalIndicator}
	if !decodeCrypto(item, cfParams|cfData|cfDigested|cfCorrelation|cfInit|cfFinal, &c) {
		return false
	}
	*r = SignRequest{UniqueIdentifier: c.uid, CryptographicParameters: c.params, Data: c.data, DigestedData: c.digested,
		CorrelationValue: c.correlation, InitIndicator: c.init, FinalIndicator: c.final}
	return true
}

func (r *SignatureVerifyRequest) decodeFast(item ttlv.TTLV) bool {
	c := cryptoRequest{uid: r.UniqueIdentifier, params: r.CryptographicParameters, data: r.Data, digested: r.DigestedData,
		sig: r.SignatureData, correlation: r.CorrelationValue, init: r.InitIndicator, final: r.FinalIndicator}
	if !decodeCrypto(item, cfParams|cfData|cfDigested|cfSignature|cfCorrelation|cfInit|cfFinal, &c) {
		return false
	}
	*r = SignatureVerifyRequest{UniqueIdentifier: c.uid, CryptographicParameters: c.params, Data: c.data, DigestedData: c.digested,
		SignatureData: c.sig, CorrelationValue: c.correlation, InitIndicator: c.init, FinalIndicator: c.final}
	return true
}

func (r *MACRequest) decodeFast(item ttlv.TTLV) bool {
	c := cryptoRequest{uid: r.UniqueIdentifier, params: r.CryptographicParameters, data: r.Data,
		correlation: r.CorrelationValue, init: r.InitIndicator, final: r.FinalIndicator}
	if !decodeCrypto(item, cfParams|cfData|cfCorrelation|cfInit|cfFinal, &c) {
		return false
	}
	*r = MACRequest{UniqueIdentifier: c.uid, CryptographicParameters: c.params, Data: c.data,
		CorrelationValue: c.correlation, InitIndicator: c.init, FinalIndicator: c.final}
	return true
}

func (r *MACVerifyRequest) decodeFast(item ttlv.TTLV) bool {
	c := cryptoRequest{uid: r.UniqueIdentifier, params: r.CryptographicParameters, data: r.Data, macs: r.MACData,
		correlation: r.CorrelationValue, init: r.InitIndicator, final: r.FinalIndicator}
	if !decodeCrypto(item, cfParams|cfData|cfMAC|cfCorrelation|cfInit|cfFinal, &c) {
		return false
	}
	*r = MACVerifyRequest{UniqueIdentifier: c.uid, CryptographicParameters: c.params, Data: c.data, MACData: c.macs,
		CorrelationValue: c.correlation, InitIndicator: c.init, FinalIndicator: c.final}
	return true
}

// appendCryptoAnswer writes a crypto operation's answer: its Unique
// Identifier, its Validity Indicator (when set), then its byte string
// fields in order.
func appendCryptoAnswer(b []byte, tag ttlv.Tag, id string, validity kmip14.ValidityIndicator, fields ...answerBytes) []byte {
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagUniqueIdentifier, id)
	if validity != 0 {
		b = tf.Enum(b, kmip14.TagValidityIndicator, uint32(validity))
	}
	for _, f := range fields {
		// The reflection encoder writes an omitempty byte string when it
		// is not empty, another one when it is not nil.
		if f.v != nil && (!f.omitEmpty || len(f.v) > 0) {
			b = tf.Bytes(b, f.tag, f.v)
		}
	}
	return tf.End(b, s)
}

// answerBytes is a byte string field of a crypto answer.
type answerBytes struct {
	tag       ttlv.Tag
	v         []byte
	omitEmpty bool
}

func (r *EncryptResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendCryptoAnswer(b, tag, r.UniqueIdentifier, 0, answerBytes{kmip14.TagData, r.Data, false},
		answerBytes{kmip14.TagIVCounterNonce, r.IVCounterNonce, true}, answerBytes{kmip14.TagCorrelationValue, r.CorrelationValue, true},
		answerBytes{kmip14.TagAuthenticatedEncryptionTag, r.AuthenticatedEncryptionTag, true}), true
}

func (r *DecryptResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendCryptoAnswer(b, tag, r.UniqueIdentifier, 0, answerBytes{kmip14.TagData, r.Data, false},
		answerBytes{kmip14.TagCorrelationValue, r.CorrelationValue, true}), true
}

func (r *SignResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendCryptoAnswer(b, tag, r.UniqueIdentifier, 0, answerBytes{kmip14.TagSignatureData, r.SignatureData, true},
		answerBytes{kmip14.TagCorrelationValue, r.CorrelationValue, true}), true
}

func (r *SignatureVerifyResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendCryptoAnswer(b, tag, r.UniqueIdentifier, r.ValidityIndicator, answerBytes{kmip14.TagData, r.Data, true},
		answerBytes{kmip14.TagCorrelationValue, r.CorrelationValue, true}), true
}

func (r *MACResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendCryptoAnswer(b, tag, r.UniqueIdentifier, 0, answerBytes{kmip14.TagMACData, r.MACData, true},
		answerBytes{kmip14.TagCorrelationValue, r.CorrelationValue, true}), true
}

func (r *MACVerifyResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendCryptoAnswer(b, tag, r.UniqueIdentifier, r.ValidityIndicator, answerBytes{kmip14.TagCorrelationValue, r.CorrelationValue, true}), true
}
