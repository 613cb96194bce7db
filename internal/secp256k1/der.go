package secp256k1

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

var (
	// OID is secp256k1's object identifier (SEC 2 section A.2.1).
	OID = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	// oidECPublicKey is id-ecPublicKey (RFC 5480 section 2.1.1).
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// ecPrivateKeyDER is RFC 5915's ECPrivateKey.
type ecPrivateKeyDER struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// spki is X.509's SubjectPublicKeyInfo (RFC 5280 section 4.1).
type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// pkcs8 is PKCS#8's PrivateKeyInfo (RFC 5208 section 5).
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// isCurveParams reports whether params (an AlgorithmIdentifier's parameters)
// name secp256k1.
func isCurveParams(params asn1.RawValue) bool {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(params.FullBytes, &oid)
	return err == nil && len(rest) == 0 && oid.Equal(OID)
}

// ParseECPrivateKey reads an RFC 5915 ECPrivateKey on secp256k1. A public
// key in it must be the private key's.
func ParseECPrivateKey(der []byte) (*PrivateKey, error) {
	return parseECPrivateKey(der, false)
}

func parseECPrivateKey(der []byte, curveKnown bool) (*PrivateKey, error) {
	var v ecPrivateKeyDER
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("secp256k1: not an ECPrivateKey")
	}
	if v.Version != 1 {
		return nil, fmt.Errorf("secp256k1: ECPrivateKey version %d", v.Version)
	}
	if v.Curve != nil && !v.Curve.Equal(OID) || v.Curve == nil && !curveKnown {
		return nil, errors.New("secp256k1: the key is not on secp256k1")
	}
	if len(v.PrivateKey) > 32 {
		return nil, ErrInvalidKey
	}
	d := make([]byte, 32)
	copy(d[32-len(v.PrivateKey):], v.PrivateKey)
	k, err := NewPrivateKey(d)
	clear(d)
	if err != nil {
		return nil, err
	}
	if len(v.PublicKey.Bytes) > 0 && !bytes.Equal(v.PublicKey.RightAlign(), k.pub.Bytes()) {
		return nil, errors.New("secp256k1: the ECPrivateKey's public key is not its private key's")
	}
	return k, nil
}

// MarshalECPrivateKey writes k as an RFC 5915 ECPrivateKey with the
// curve and the public key.
func MarshalECPrivateKey(k *PrivateKey) ([]byte, error) {
	pub := k.pub.Bytes()
	return asn1.Marshal(ecPrivateKeyDER{
		Version: 1, PrivateKey: k.Bytes(), Curve: OID,
		PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
}

// ParsePKCS8PrivateKey reads a PKCS#8 PrivateKeyInfo of an EC key on
// secp256k1.
func ParsePKCS8PrivateKey(der []byte) (*PrivateKey, error) {
	var v pkcs8
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("secp256k1: not a PKCS#8 private key")
	}
	if !v.Algorithm.Algorithm.Equal(oidECPublicKey) || !isCurveParams(v.Algorithm.Parameters) {
		return nil, errors.New("secp256k1: the PKCS#8 key is not an EC key on secp256k1")
	}
	return parseECPrivateKey(v.PrivateKey, true)
}

// MarshalPKCS8PrivateKey writes k as a PKCS#8 PrivateKeyInfo.
func MarshalPKCS8PrivateKey(k *PrivateKey) ([]byte, error) {
	inner, err := MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	params, err := asn1.Marshal(OID)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs8{
		Algorithm:  pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		PrivateKey: inner,
	})
}

// ParsePKIXPublicKey reads an X.509 SubjectPublicKeyInfo of an EC key on
// secp256k1.
func ParsePKIXPublicKey(der []byte) (*PublicKey, error) {
	var v spki
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("secp256k1: not a SubjectPublicKeyInfo")
	}
	if !v.Algorithm.Algorithm.Equal(oidECPublicKey) || !isCurveParams(v.Algorithm.Parameters) {
		return nil, errors.New("secp256k1: the public key is not an EC key on secp256k1")
	}
	return ParsePublicKey(v.PublicKey.RightAlign())
}

// MarshalPKIXPublicKey writes p as an X.509 SubjectPublicKeyInfo.
func MarshalPKIXPublicKey(p *PublicKey) ([]byte, error) {
	params, err := asn1.Marshal(OID)
	if err != nil {
		return nil, err
	}
	pub := p.Bytes()
	return asn1.Marshal(spki{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)},
	})
}
