package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// export implements Export (KMIP 2.0 section 6.1.20): Get (same request,
// same rules: a Sensitive key only wrapped, a non-Extractable one never)
// with the object's attributes in the answer, so that Import can make the
// same object elsewhere.
func (s *Service) export(ctx context.Context, call *Call) (any, error) {
	got, err := s.get(ctx, call)
	if err != nil {
		return nil, err
	}
	g, ok := got.(*message.GetResponse)
	if !ok || g.Template != nil {
		return nil, message.Errorf(kmip20.ResultReasonInvalidObjectType, "this object cannot be exported")
	}
	m, err := s.load(ctx, call, g.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	attrs, err := message.EncodeAttributes(call.Version, kmip20.TagAttributes, m.attrs)
	if err != nil {
		return nil, err
	}
	return &message.ExportResponse{
		ObjectType: g.ObjectType, UniqueIdentifier: g.UniqueIdentifier, Attributes: attrs,
		Certificate: g.Certificate, SymmetricKey: g.SymmetricKey, PublicKey: g.PublicKey, PrivateKey: g.PrivateKey,
		SecretData: g.SecretData, OpaqueObject: g.OpaqueObject,
	}, nil
}
