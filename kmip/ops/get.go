package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// get implements Get (KMIP 1.4 section 4.11): the key material is opened
// inside the root of trust and returned in the requested Key Format Type
// (Raw by default, or Transparent Symmetric Key).
func (s *Service) get(ctx context.Context, call *Call) (any, error) {
	var req message.GetRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	if len(req.KeyWrappingSpecification) > 0 || req.KeyWrapType != 0 {
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "key wrapping on Get is not supported")
	}
	if req.KeyCompressionType != 0 {
		return nil, message.Errorf(kmip20.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	m, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	if _, err := object.Transition(object.State(m.rec.State), object.EventUse); err != nil {
		return nil, err
	}
	if m.rec.ObjectType != uint32(kmip14.ObjectTypeSymmetricKey) {
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "Get of object type %s is not supported", kmip14.ObjectType(m.rec.ObjectType))
	}
	format := req.KeyFormatType
	if format == 0 {
		format = kmip14.KeyFormatTypeRaw
	}
	if format != kmip14.KeyFormatTypeRaw && format != kmip14.KeyFormatTypeTransparentSymmetricKey {
		return nil, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "key format %s is not available for a symmetric key", format)
	}

	material, err := s.material(ctx, call, m)
	if err != nil {
		return nil, err
	}
	alg, length, err := cryptoParams(m.attrs)
	if err != nil {
		return nil, err
	}
	var keyMaterial any = material
	if format == kmip14.KeyFormatTypeTransparentSymmetricKey {
		keyMaterial = message.TransparentSymmetricKey{Key: material}
	}
	return &message.GetResponse{
		ObjectType:       kmip14.ObjectTypeSymmetricKey,
		UniqueIdentifier: id,
		SymmetricKey: &message.SymmetricKey{KeyBlock: message.KeyBlock{
			KeyFormatType:          format,
			KeyValue:               message.KeyValue{KeyMaterial: keyMaterial},
			CryptographicAlgorithm: kmip14.CryptographicAlgorithm(alg),
			CryptographicLength:    length,
		}},
	}, nil
}
