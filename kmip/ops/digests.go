package ops

import (
	"crypto"
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // KMIP names MD5; a client that asks for it gets it
	"crypto/sha1" //nolint:gosec // KMIP's default hash for OAEP and many clients' choice
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"hash"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// hashes maps the KMIP Hashing Algorithms the server computes to Go's.
var hashes = map[kmip14.HashingAlgorithm]crypto.Hash{
	kmip14.HashingAlgorithmMD5:         crypto.MD5,
	kmip14.HashingAlgorithmSHA_1:       crypto.SHA1,
	kmip14.HashingAlgorithmSHA_224:     crypto.SHA224,
	kmip14.HashingAlgorithmSHA_256:     crypto.SHA256,
	kmip14.HashingAlgorithmSHA_384:     crypto.SHA384,
	kmip14.HashingAlgorithmSHA_512:     crypto.SHA512,
	kmip14.HashingAlgorithmSHA_512_224: crypto.SHA512_224,
	kmip14.HashingAlgorithmSHA_512_256: crypto.SHA512_256,
	kmip14.HashingAlgorithmSHA_3_224:   crypto.SHA3_224,
	kmip14.HashingAlgorithmSHA_3_256:   crypto.SHA3_256,
	kmip14.HashingAlgorithmSHA_3_384:   crypto.SHA3_384,
	kmip14.HashingAlgorithmSHA_3_512:   crypto.SHA3_512,
}

// The hash packages register themselves with crypto.Hash when imported.
var _ = []any{md5.New, sha1.New, sha256.New, sha512.New, sha3.New256}

// hashOf returns the Go hash of a KMIP Hashing Algorithm; def when h is
// zero (absent).
func hashOf(h kmip14.HashingAlgorithm, def crypto.Hash) (crypto.Hash, error) {
	if h == 0 {
		return def, nil
	}
	ch, ok := hashes[h]
	if !ok || !ch.Available() {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "Hashing Algorithm %s is not supported", h)
	}
	return ch, nil
}

// hmacHashes maps the HMAC algorithms to their hash.
var hmacHashes = map[kmip14.CryptographicAlgorithm]crypto.Hash{
	kmip14.CryptographicAlgorithmHMAC_MD5:      crypto.MD5,
	kmip14.CryptographicAlgorithmHMAC_SHA1:     crypto.SHA1,
	kmip14.CryptographicAlgorithmHMAC_SHA224:   crypto.SHA224,
	kmip14.CryptographicAlgorithmHMAC_SHA256:   crypto.SHA256,
	kmip14.CryptographicAlgorithmHMAC_SHA384:   crypto.SHA384,
	kmip14.CryptographicAlgorithmHMAC_SHA512:   crypto.SHA512,
	kmip14.CryptographicAlgorithmHMAC_SHA3_224: crypto.SHA3_224,
	kmip14.CryptographicAlgorithmHMAC_SHA3_256: crypto.SHA3_256,
	kmip14.CryptographicAlgorithmHMAC_SHA3_384: crypto.SHA3_384,
	kmip14.CryptographicAlgorithmHMAC_SHA3_512: crypto.SHA3_512,
}

// signatureSchemes maps the Digital Signature Algorithms to the key
// family, hash and RSA padding they stand for.
var signatureSchemes = map[kmip14.DigitalSignatureAlgorithm]struct {
	family  kmip14.CryptographicAlgorithm
	hash    crypto.Hash
	padding kmip14.PaddingMethod
}{
	kmip14.DigitalSignatureAlgorithmMD5WithRSAEncryption:      {kmip14.CryptographicAlgorithmRSA, crypto.MD5, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA_1WithRSAEncryption:    {kmip14.CryptographicAlgorithmRSA, crypto.SHA1, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA_224WithRSAEncryption:  {kmip14.CryptographicAlgorithmRSA, crypto.SHA224, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA_256WithRSAEncryption:  {kmip14.CryptographicAlgorithmRSA, crypto.SHA256, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA_384WithRSAEncryption:  {kmip14.CryptographicAlgorithmRSA, crypto.SHA384, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA_512WithRSAEncryption:  {kmip14.CryptographicAlgorithmRSA, crypto.SHA512, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA3_256WithRSAEncryption: {kmip14.CryptographicAlgorithmRSA, crypto.SHA3_256, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA3_384WithRSAEncryption: {kmip14.CryptographicAlgorithmRSA, crypto.SHA3_384, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmSHA3_512WithRSAEncryption: {kmip14.CryptographicAlgorithmRSA, crypto.SHA3_512, kmip14.PaddingMethodPKCS1V1_5},
	kmip14.DigitalSignatureAlgorithmRSASSA_PSS:                {kmip14.CryptographicAlgorithmRSA, 0, kmip14.PaddingMethodPSS},
	kmip14.DigitalSignatureAlgorithmECDSAWithSHA_1:            {kmip14.CryptographicAlgorithmECDSA, crypto.SHA1, 0},
	kmip14.DigitalSignatureAlgorithmECDSAWithSHA224:           {kmip14.CryptographicAlgorithmECDSA, crypto.SHA224, 0},
	kmip14.DigitalSignatureAlgorithmECDSAWithSHA256:           {kmip14.CryptographicAlgorithmECDSA, crypto.SHA256, 0},
	kmip14.DigitalSignatureAlgorithmECDSAWithSHA384:           {kmip14.CryptographicAlgorithmECDSA, crypto.SHA384, 0},
	kmip14.DigitalSignatureAlgorithmECDSAWithSHA512:           {kmip14.CryptographicAlgorithmECDSA, crypto.SHA512, 0},
}

// newMAC returns the HMAC of alg keyed with key.
func newHMAC(alg kmip14.CryptographicAlgorithm, key []byte) (hash.Hash, bool) {
	h, ok := hmacHashes[alg]
	if !ok || !h.Available() {
		return nil, false
	}
	return hmac.New(h.New, key), true
}
