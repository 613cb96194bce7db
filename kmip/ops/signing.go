package ops

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/internal/secp256k1"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// signScheme is how Sign and Signature Verify use a key: RSA with PSS or
// PKCS#1 v1.5 padding, or ECDSA (ASN.1 DER signatures, as X.509 and
// OpenSSL write them), with a hash.
type signScheme struct {
	hash    crypto.Hash
	padding kmip14.PaddingMethod // RSA only
	salt    int                  // PSS only
}

// schemeFor reads the Cryptographic Parameters for key: a Digital
// Signature Algorithm names hash and padding at once; otherwise the
// Hashing Algorithm (SHA-256 by default, SHA-384 and SHA-512 for EC keys
// on P-384 and P-521) and, for RSA, the Padding Method (PKCS#1 v1.5 by
// default).
func schemeFor(key any, p message.CryptographicParameters) (signScheme, error) {
	var family kmip14.CryptographicAlgorithm
	def := crypto.SHA256
	switch k := key.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		family = kmip14.CryptographicAlgorithmRSA
	case *ecdsa.PrivateKey:
		family, def = kmip14.CryptographicAlgorithmECDSA, ecHash(k.Curve)
	case *ecdsa.PublicKey:
		family, def = kmip14.CryptographicAlgorithmECDSA, ecHash(k.Curve)
	case *secp256k1.PrivateKey, *secp256k1.PublicKey:
		family = kmip14.CryptographicAlgorithmECDSA
	case keptKey:
		family = k.family
		if c, ok := ecCurves[k.bits]; ok && family == kmip14.CryptographicAlgorithmECDSA {
			def = ecHash(c)
		}
		if family != kmip14.CryptographicAlgorithmRSA && family != kmip14.CryptographicAlgorithmECDSA {
			return signScheme{}, message.Errorf(kmip20.ResultReasonInvalidField, "the key is not an RSA or EC key: it does not sign")
		}
	default:
		return signScheme{}, message.Errorf(kmip20.ResultReasonInvalidField, "the key is not an RSA or EC key: it does not sign")
	}
	sc := signScheme{padding: p.PaddingMethod}
	if p.DigitalSignatureAlgorithm != 0 {
		dsa, ok := signatureSchemes[p.DigitalSignatureAlgorithm]
		if !ok || !dsa.hash.Available() && dsa.padding != kmip14.PaddingMethodPSS {
			return signScheme{}, message.Errorf(kmip20.ResultReasonInvalidField, "Digital Signature Algorithm %s is not supported", p.DigitalSignatureAlgorithm)
		}
		if dsa.family != family {
			return signScheme{}, message.Errorf(kmip20.ResultReasonInvalidField, "Digital Signature Algorithm %s does not fit a %s key", p.DigitalSignatureAlgorithm, family)
		}
		sc.hash, sc.padding = dsa.hash, dsa.padding
	}
	if sc.hash == 0 {
		h, err := hashOf(p.HashingAlgorithm, def)
		if err != nil {
			return signScheme{}, err
		}
		sc.hash = h
	}
	if family == kmip14.CryptographicAlgorithmRSA {
		switch sc.padding {
		case 0:
			sc.padding = kmip14.PaddingMethodPKCS1V1_5
		case kmip14.PaddingMethodPKCS1V1_5, kmip14.PaddingMethodPSS:
		default:
			return signScheme{}, message.Errorf(kmip20.ResultReasonInvalidField, "Padding Method %s is not supported for RSA signatures (PSS and PKCS1 v1.5 are)", sc.padding)
		}
		if sc.padding == kmip14.PaddingMethodPSS {
			if p.MaskGeneratorHashingAlgorithm != 0 {
				if mgf, err := hashOf(p.MaskGeneratorHashingAlgorithm, sc.hash); err != nil || mgf != sc.hash {
					return signScheme{}, message.Errorf(kmip20.ResultReasonInvalidField, "PSS with an MGF1 hash other than the message hash is not supported")
				}
			}
			sc.salt = int(p.SaltLength)
		}
	}
	return sc, nil
}

func ecHash(c elliptic.Curve) crypto.Hash {
	switch c.Params().BitSize {
	case 384:
		return crypto.SHA384
	case 521:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// digestOf returns the digest to sign: the hash of data, or digested as
// given (it must have the hash's length).
func (sc signScheme) digestOf(data, digested []byte) ([]byte, error) {
	if digested != nil {
		if len(digested) != sc.hash.Size() {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Digested Data is %d bytes; %s digests are %d", len(digested), sc.hash, sc.hash.Size())
		}
		return digested, nil
	}
	h := sc.hash.New()
	h.Write(data)
	return h.Sum(nil), nil
}

// sign signs digest with key, a private key.
func (sc signScheme) sign(key any, digest []byte) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if sc.padding == kmip14.PaddingMethodPSS {
			salt := sc.salt
			if salt == 0 {
				salt = rsa.PSSSaltLengthEqualsHash
			}
			sig, err = rsa.SignPSS(rand.Reader, k, sc.hash, digest, &rsa.PSSOptions{SaltLength: salt, Hash: sc.hash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, sc.hash, digest)
		}
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "RSA signature: %v", err)
		}
		return sig, nil
	case *ecdsa.PrivateKey:
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest)
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "ECDSA signature: %v", err)
		}
		return sig, nil
	case *secp256k1.PrivateKey:
		return signK1(k, digest)
	}
	return nil, message.Errorf(kmip20.ResultReasonInvalidField, "signing needs a private key")
}

// verify checks sig over digest with key (public, or the public half of
// a private key).
func (sc signScheme) verify(key any, digest, sig []byte) bool {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return sc.verify(&k.PublicKey, digest, sig)
	case *ecdsa.PrivateKey:
		return sc.verify(&k.PublicKey, digest, sig)
	case *rsa.PublicKey:
		if sc.padding == kmip14.PaddingMethodPSS {
			salt := sc.salt
			if salt == 0 {
				salt = rsa.PSSSaltLengthAuto
			}
			return rsa.VerifyPSS(k, sc.hash, digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: sc.hash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, sc.hash, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *secp256k1.PrivateKey:
		return secp256k1.VerifyASN1(k.Public(), digest, sig)
	case *secp256k1.PublicKey:
		return secp256k1.VerifyASN1(k, digest, sig)
	}
	return false
}
