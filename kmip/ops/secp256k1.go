package ops

import (
	"crypto/rand"
	"math/big"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/internal/secp256k1"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Keys on secp256k1 (SEC 2), which Go's crypto/ecdsa does not implement:
// they are *secp256k1.PrivateKey and *secp256k1.PublicKey, parsed when Go's
// x509 refuses the curve, and they sign and verify with ECDSA like the NIST
// curves' keys.

// parseK1 reads material of format f that Go's x509 refused as a
// secp256k1 key; ok is false when it is not one either (the caller then
// reports its own error).
func parseK1(f kmip14.KeyFormatType, payload []byte) (key any, ok bool) {
	var err error
	switch f {
	case kmip14.KeyFormatTypeECPrivateKey:
		key, err = secp256k1.ParseECPrivateKey(payload)
	case kmip14.KeyFormatTypePKCS_8:
		key, err = secp256k1.ParsePKCS8PrivateKey(payload)
	case kmip14.KeyFormatTypeX_509:
		key, err = secp256k1.ParsePKIXPublicKey(payload)
	default:
		return nil, false
	}
	return key, err == nil
}

// parseTransparentK1 reads a Transparent EC key on SECP256K1: D (private)
// or the uncompressed point Q.
func parseTransparentK1(d []byte, q []byte) (any, error) {
	if d != nil {
		if len(d) > 32 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "D is not a private key on SECP256K1")
		}
		k, err := secp256k1.NewPrivateKey(append(make([]byte, 32-len(d)), d...))
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "D is not a private key on SECP256K1")
		}
		return k, nil
	}
	k, err := secp256k1.ParsePublicKey(q)
	if err != nil {
		return nil, badMaterial(kmip14.KeyFormatTypeTransparentECPublicKey, err)
	}
	return k, nil
}

// convertK1 renders a secp256k1 key in format f (der, or a transparent
// structure v); both nil when f is not a form of it.
func convertK1(key any, f kmip14.KeyFormatType) (der []byte, v any, err error) {
	switch k := key.(type) {
	case *secp256k1.PrivateKey:
		switch f {
		case kmip14.KeyFormatTypeECPrivateKey:
			der, err = secp256k1.MarshalECPrivateKey(k)
		case kmip14.KeyFormatTypePKCS_8:
			der, err = secp256k1.MarshalPKCS8PrivateKey(k)
		case kmip14.KeyFormatTypeTransparentECPrivateKey:
			v = message.TransparentECPrivateKey{RecommendedCurve: kmip14.RecommendedCurveSECP256K1, D: new(big.Int).SetBytes(k.Bytes())}
		}
	case *secp256k1.PublicKey:
		switch f {
		case kmip14.KeyFormatTypeX_509:
			der, err = secp256k1.MarshalPKIXPublicKey(k)
		case kmip14.KeyFormatTypeTransparentECPublicKey:
			v = message.TransparentECPublicKey{RecommendedCurve: kmip14.RecommendedCurveSECP256K1, QString: k.Bytes()}
		}
	}
	return der, v, err
}

// signK1 and verifyK1 are ECDSA with a secp256k1 key.
func signK1(k *secp256k1.PrivateKey, digest []byte) ([]byte, error) {
	sig, err := secp256k1.SignASN1(rand.Reader, k, digest)
	if err != nil {
		return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "ECDSA signature: %v", err)
	}
	return sig, nil
}
