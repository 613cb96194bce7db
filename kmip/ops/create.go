package ops

import (
	"context"
	"math/bits"
	"slices"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// create implements Create (KMIP 1.4 section 4.1) for symmetric keys (AES,
// Triple DES, HMAC, ChaCha20): key material from the root of trust's RNG,
// sealed under the tenant KEK inside the root of trust, stored with its
// attributes; the new key is Pre-Active (Active when its Activation Date
// has been reached, or for a client with the vsphere profile).
func (s *Service) create(ctx context.Context, call *Call) (any, error) {
	var req message.CreateRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if req.ObjectType != kmip14.ObjectTypeSymmetricKey {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Create makes symmetric keys; object type %s is not supported", req.ObjectType)
	}
	attrs, err := s.requestAttributes(ctx, call, req.TemplateAttribute, req.Attributes)
	if err != nil {
		return nil, err
	}
	if err := checkClientAttributes(attrs); err != nil {
		return nil, err
	}
	spec, err := checkSymmetric(attrs)
	if err != nil {
		return nil, err
	}
	keeper, keep, err := s.keeperFor(ctx, call, &attrs) // keptkeys.go
	if err != nil {
		return nil, err
	}
	if keep && keepable(spec) {
		return s.createKept(ctx, call, keeper, attrs, spec)
	}
	material, err := s.newMaterial(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	digest, err := rawDigest(material, kmip14.KeyFormatTypeRaw)
	if err != nil {
		return nil, err
	}
	m, err := s.insert(ctx, call, newObject{Type: kmip14.ObjectTypeSymmetricKey, Attrs: attrs, Material: material, Digest: digest, Format: kmip14.KeyFormatTypeRaw, Generated: true})
	if err != nil {
		return nil, err
	}
	return &message.CreateResponse{ObjectType: kmip14.ObjectTypeSymmetricKey, UniqueIdentifier: m.rec.ID}, nil
}

// symmetricAlgorithms are the algorithms Create and Re-key make keys for,
// with their valid Cryptographic Lengths in bits.
var symmetricAlgorithms = map[kmip14.CryptographicAlgorithm][]int32{
	kmip14.CryptographicAlgorithmAES:         {128, 192, 256},
	kmip14.CryptographicAlgorithmDES3:        {112, 168},
	kmip14.CryptographicAlgorithmHMAC_SHA1:   {160},
	kmip14.CryptographicAlgorithmHMAC_SHA256: {256},
	kmip14.CryptographicAlgorithmHMAC_SHA384: {384},
	kmip14.CryptographicAlgorithmHMAC_SHA512: {512},
	kmip14.CryptographicAlgorithmChaCha20:    {256},
}

// symmetricSpec is a vetted request for new symmetric key material.
type symmetricSpec struct {
	algorithm kmip14.CryptographicAlgorithm
	length    int32
}

// materialLen is the key's size in bytes. DES keys carry a parity bit per
// byte that their Cryptographic Length does not count: 3-key Triple DES
// (168) is 24 bytes, 2-key (112) is 16.
func (k symmetricSpec) materialLen() int {
	if k.algorithm == kmip14.CryptographicAlgorithmDES3 {
		return int(k.length / 7)
	}
	return int(k.length / 8)
}

// newMaterial draws the key from the root of trust's RNG, with DES odd
// parity set where the algorithm wants it.
func (s *Service) newMaterial(ctx context.Context, k symmetricSpec) ([]byte, error) {
	b, err := s.random(ctx, k.materialLen())
	if err != nil {
		return nil, err
	}
	if k.algorithm == kmip14.CryptographicAlgorithmDES3 {
		for i, c := range b {
			c &^= 1
			if bits.OnesCount8(c)%2 == 0 {
				c |= 1
			}
			b[i] = c
		}
	}
	return b, nil
}

// checkSymmetric validates the attributes a new symmetric key needs.
func checkSymmetric(attrs attr.List) (symmetricSpec, error) {
	var k symmetricSpec
	a, ok := attrs.Get(attr.CryptographicAlgorithm)
	if !ok {
		return k, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Algorithm is required")
	}
	alg, err := a.Enum()
	if err != nil {
		return k, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	k.algorithm = kmip14.CryptographicAlgorithm(alg)
	lengths, ok := symmetricAlgorithms[k.algorithm]
	if !ok {
		return k, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Algorithm %s is not supported for a new symmetric key", k.algorithm)
	}
	l, ok := attrs.Get(attr.CryptographicLength)
	if !ok {
		return k, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Length is required")
	}
	if k.length, err = l.Int(); err != nil {
		return k, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	if !slices.Contains(lengths, k.length) {
		return k, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d is not valid for %s (%v)", k.length, k.algorithm, lengths)
	}
	if u, ok := attrs.Get(attr.CryptographicUsageMask); ok {
		if _, err := u.Int(); err != nil {
			return k, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
		}
	}
	return k, nil
}
