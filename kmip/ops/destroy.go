package ops

import (
	"context"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// destroy implements Destroy (KMIP 1.4 section 4.21): the key material is
// erased from the store; the object stays, in state Destroyed, so that its
// attributes remain readable. An Active object must be revoked first.
func (s *Service) destroy(ctx context.Context, call *Call) (any, error) {
	var req message.DestroyRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	_, err = s.update(ctx, call, id, func(m *managed) error {
		next, err := object.Transition(object.State(m.rec.State), object.EventDestroy)
		if err != nil {
			return err
		}
		m.setState(next)
		m.rec.Material = nil
		m.attrs.Set(attr.DestroyDate, attr.Date(s.now()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	return &message.DestroyResponse{UniqueIdentifier: id}, nil
}
