package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// create implements Create (KMIP 1.4 section 4.1) for AES symmetric keys:
// key material from the root of trust's RNG, sealed under the tenant KEK
// inside the root of trust, stored with its attributes; the new key is
// Pre-Active (or Active when its Activation Date has been reached).
func (s *Service) create(ctx context.Context, call *Call) (any, error) {
	var req message.CreateRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if req.ObjectType != kmip14.ObjectTypeSymmetricKey {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Create makes symmetric keys; object type %s is not supported", req.ObjectType)
	}
	raw := req.Attributes // 2.x; some 2.x clients (ovh/kmip-go) still send the 1.x form
	if len(raw) == 0 {
		raw = req.TemplateAttribute
	}
	attrs, err := message.DecodeAttributes(raw)
	if err != nil {
		return nil, err
	}
	if err := checkClientAttributes(attrs); err != nil {
		return nil, err
	}
	length, err := checkSymmetric(attrs)
	if err != nil {
		return nil, err
	}
	material, err := s.random(ctx, int(length/8))
	if err != nil {
		return nil, err
	}
	defer clear(material)
	m, err := s.insert(ctx, call, kmip14.ObjectTypeSymmetricKey, attrs, material, kmip14.KeyFormatTypeRaw)
	if err != nil {
		return nil, err
	}
	return &message.CreateResponse{ObjectType: kmip14.ObjectTypeSymmetricKey, UniqueIdentifier: m.rec.ID}, nil
}

// checkSymmetric validates the attributes a symmetric key needs and
// returns its length in bits.
func checkSymmetric(attrs attr.List) (int32, error) {
	a, ok := attrs.Get(attr.CryptographicAlgorithm)
	if !ok {
		return 0, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Algorithm is required")
	}
	alg, err := a.Enum()
	if err != nil {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	if alg != uint32(kmip14.CryptographicAlgorithmAES) {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Algorithm %s is not supported for Create (AES only)", kmip14.CryptographicAlgorithm(alg))
	}
	l, ok := attrs.Get(attr.CryptographicLength)
	if !ok {
		return 0, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Length is required")
	}
	length, err := l.Int()
	if err != nil {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	switch length {
	case 128, 192, 256:
	default:
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d is not valid for AES (128, 192 or 256)", length)
	}
	if u, ok := attrs.Get(attr.CryptographicUsageMask); ok {
		if _, err := u.Int(); err != nil {
			return 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
		}
	}
	return length, nil
}
