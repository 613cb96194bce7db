package ops

import (
	"context"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// getAttributeList implements Get Attribute List (KMIP 1.4 section 4.13,
// 2.1 section 6.1): the names of the object's attributes (2.x:
// Attribute References), each once, custom ones first, then in the order
// Get Attributes uses; attributes the client's version lacks are left out.
func (s *Service) getAttributeList(ctx context.Context, call *Call) (any, error) {
	var req message.GetAttributeListRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	m, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	v := attr.Version(call.Version)
	resp := &message.GetAttributeListResponse{UniqueIdentifier: id}
	seen := map[string]bool{}
	for _, a := range displayOrder(m.attrs, true) {
		if seen[a.Name] || !attr.Known(v, a.Name) {
			continue
		}
		seen[a.Name] = true
		if !call.Version.AtLeast(message.V2_0) {
			resp.AttributeName = append(resp.AttributeName, a.Name)
			continue
		}
		ref, err := message.EncodeAttributeReference(a.Name)
		if err != nil {
			return nil, err
		}
		resp.AttributeReference = append(resp.AttributeReference, ref)
	}
	return resp, nil
}
