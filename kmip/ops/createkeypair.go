package ops

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// rsaLengths are the RSA moduli Create Key Pair makes.
var rsaLengths = []int32{2048, 3072, 4096}

// ecCurves are the curves Create Key Pair makes EC keys on, by length.
var ecCurves = map[int32]elliptic.Curve{256: elliptic.P256(), 384: elliptic.P384(), 521: elliptic.P521()}

// createKeyPair implements Create Key Pair (KMIP 1.4 section 4.2) for RSA
// and NIST-curve EC keys: the pair is generated, each half stored sealed
// like any key (the private key in PKCS#1 or PKCS#8, the public key in
// PKCS#1 or X.509), and the two linked (Public Key Link / Private Key
// Link). The private key's identifier becomes the ID Placeholder.
func (s *Service) createKeyPair(ctx context.Context, call *Call) (any, error) {
	var req message.CreateKeyPairRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	privOwn, pubOwn, err := s.pairAttributes(ctx, call, pairTemplates{
		req.CommonTemplateAttribute, req.CommonAttributes,
		req.PrivateKeyTemplateAttribute, req.PrivateKeyAttributes,
		req.PublicKeyTemplateAttribute, req.PublicKeyAttributes,
	})
	if err != nil {
		return nil, err
	}
	privAttrs, pubAttrs := privOwn, pubOwn
	for _, l := range []attr.List{privAttrs, pubAttrs} {
		if err := checkClientAttributes(l); err != nil {
			return nil, err
		}
	}
	return s.makePair(ctx, call, privAttrs, pubAttrs)
}

// makePair is Create Key Pair with the attributes of each half checked
// (Re-key Key Pair makes its replacement pair with it).
func (s *Service) makePair(ctx context.Context, call *Call, privAttrs, pubAttrs attr.List) (*message.CreateKeyPairResponse, error) {
	var err error

	var private, public any
	keeper, keep, err := s.keeperFor(ctx, call, &privAttrs) // keptkeys.go
	if err != nil {
		return nil, err
	}
	var kept []byte
	if keep {
		public, kept, err = keepPair(ctx, keeper, call, s, &privAttrs)
	} else {
		private, public, err = s.generatePair(ctx, call, privAttrs)
	}
	if err != nil {
		return nil, err
	}
	privFormat, privDER := kmip14.KeyFormatTypePKCS_8, []byte(nil)
	pubFormat, pubDER := kmip14.KeyFormatTypeX_509, []byte(nil)
	switch k := private.(type) {
	case nil: // kept in the root of trust
		privFormat, privDER = keptFormat, kept
		if rk, ok := public.(*rsa.PublicKey); ok {
			pubFormat, pubDER = kmip14.KeyFormatTypePKCS_1, x509.MarshalPKCS1PublicKey(rk)
		} else if pubDER, err = x509.MarshalPKIXPublicKey(public); err != nil {
			return nil, fmt.Errorf("encode public key: %w", err)
		}
	case *rsa.PrivateKey:
		privFormat, privDER = kmip14.KeyFormatTypePKCS_1, x509.MarshalPKCS1PrivateKey(k)
		pubFormat, pubDER = kmip14.KeyFormatTypePKCS_1, x509.MarshalPKCS1PublicKey(&k.PublicKey)
	default:
		if privDER, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			return nil, fmt.Errorf("encode private key: %w", err)
		}
		if pubDER, err = x509.MarshalPKIXPublicKey(public); err != nil {
			return nil, fmt.Errorf("encode public key: %w", err)
		}
	}
	defer clear(privDER)

	alg, length := keyFacts(public)
	privID, pubID := newObjectID(), newObjectID()
	for _, half := range []struct {
		attrs *attr.List // a pointer: Add may grow the list
		link  kmip14.LinkType
		to    string
	}{{&privAttrs, kmip14.LinkTypePublicKeyLink, pubID}, {&pubAttrs, kmip14.LinkTypePrivateKeyLink, privID}} {
		half.attrs.Set(attr.CryptographicAlgorithm, attr.Enum(uint32(familyAlgorithm(alg, call.Version))))
		half.attrs.Set(attr.CryptographicLength, attr.Int(length))
		half.attrs.Add(attr.Link, mustLink(half.link, half.to))
	}

	insertHalf := func(ctx context.Context, id string, t kmip14.ObjectType, attrs attr.List, format kmip14.KeyFormatType, der []byte) error {
		var digest ttlv.TTLV // none for a kept key, whose material the server never sees
		recorded := format
		if format == keptFormat {
			recorded = kmip14.KeyFormatTypePKCS_8
		} else if digest, err = rawDigest(der, format); err != nil {
			return err
		}
		sealed := storedMaterial{format: format, payload: der}.seal()
		defer clear(sealed)
		_, err = s.insert(ctx, call, newObject{ID: id, Type: t, Attrs: attrs, Material: sealed, Digest: digest, Format: recorded, Generated: true})
		return err
	}
	// Both halves or neither.
	if err := s.atomic(ctx, call, func(ctx context.Context) error {
		if err := insertHalf(ctx, privID, kmip14.ObjectTypePrivateKey, privAttrs, privFormat, privDER); err != nil {
			return err
		}
		return insertHalf(ctx, pubID, kmip14.ObjectTypePublicKey, pubAttrs, pubFormat, pubDER)
	}); err != nil {
		return nil, err
	}
	call.Placeholder = privID
	return &message.CreateKeyPairResponse{PrivateKeyUniqueIdentifier: privID, PublicKeyUniqueIdentifier: pubID}, nil
}

// generatePair makes the key pair the attributes ask for: inside the
// root of trust when it generates key pairs (backend.KeyPairGenerator:
// the HSM's C_GenerateKeyPair), in Go otherwise (a cloud KMS).
func (s *Service) generatePair(ctx context.Context, call *Call, attrs attr.List) (private, public any, err error) {
	req, err := pairRequest(attrs)
	if err != nil {
		return nil, nil, err
	}
	if g, ok := backend.As[backend.KeyPairGenerator](s.backend); ok {
		tk, err := s.tenantKey(ctx, call.Tenant)
		if err != nil {
			return nil, nil, err
		}
		req.Key = tk
		k, err := g.GenerateKeyPair(ctx, req)
		switch {
		case err == nil:
			return k, k.Public(), nil
		case !errors.Is(err, backend.ErrNoKeyPairGenerator):
			return nil, nil, fmt.Errorf("generate key pair in the root of trust: %w", err)
		}
	}
	if req.RSABits != 0 {
		k, err := rsa.GenerateKey(rand.Reader, req.RSABits)
		if err != nil {
			return nil, nil, fmt.Errorf("generate RSA key: %w", err)
		}
		return k, &k.PublicKey, nil
	}
	k, err := ecdsa.GenerateKey(req.Curve, rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate EC key: %w", err)
	}
	return k, &k.PublicKey, nil
}

// pairRequest reads and checks the algorithm and length of a key pair.
func pairRequest(attrs attr.List) (backend.GenerateKeyPairRequest, error) {
	var req backend.GenerateKeyPairRequest
	a, ok := attrs.Get(attr.CryptographicAlgorithm)
	if !ok {
		return req, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Algorithm is required")
	}
	alg, err := a.Enum()
	if err != nil {
		return req, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	l, ok := attrs.Get(attr.CryptographicLength)
	if !ok {
		return req, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Length is required")
	}
	length, err := l.Int()
	if err != nil {
		return req, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	switch kmip14.CryptographicAlgorithm(alg) {
	case kmip14.CryptographicAlgorithmRSA:
		if !slices.Contains(rsaLengths, length) {
			return req, message.Errorf(kmip20.ResultReasonInvalidField, "RSA keys are %v bits, not %d", rsaLengths, length)
		}
		req.RSABits = int(length)
	case kmip14.CryptographicAlgorithmEC, kmip14.CryptographicAlgorithmECDSA, kmip14.CryptographicAlgorithmECDH:
		curve, ok := ecCurves[length]
		if !ok {
			return req, message.Errorf(kmip20.ResultReasonInvalidField, "EC keys are on P-256, P-384 or P-521, not a %d-bit curve", length)
		}
		req.Curve = curve
	default:
		return req, message.Errorf(kmip20.ResultReasonInvalidField, "Create Key Pair makes RSA and EC keys, not %s", kmip14.CryptographicAlgorithm(alg))
	}
	return req, nil
}

// pairTemplates are the three attribute sets of a key-pair request, each
// as a 1.x Template-Attribute or a 2.x Attributes structure.
type pairTemplates struct {
	commonTemplate, common   ttlv.TTLV
	privateTemplate, private ttlv.TTLV
	publicTemplate, public   ttlv.TTLV
}

// pairAttributes reads a key-pair request's attribute sets and returns the
// private and public halves' own, each over the common ones (Create Key
// Pair and Re-key Key Pair).
func (s *Service) pairAttributes(ctx context.Context, call *Call, t pairTemplates) (priv, pub attr.List, err error) {
	common, err := s.requestAttributes(ctx, call, t.commonTemplate, t.common)
	if err != nil {
		return nil, nil, err
	}
	privOwn, err := s.requestAttributes(ctx, call, t.privateTemplate, t.private)
	if err != nil {
		return nil, nil, err
	}
	pubOwn, err := s.requestAttributes(ctx, call, t.publicTemplate, t.public)
	if err != nil {
		return nil, nil, err
	}
	return overlay(common, privOwn), overlay(common, pubOwn), nil
}
