package ops

import (
	"context"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// activate implements Activate (KMIP 1.4 section 4.19): a Pre-Active object
// becomes Active and its Activation Date is now.
func (s *Service) activate(ctx context.Context, call *Call) (any, error) {
	var req message.ActivateRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	_, err = s.update(ctx, call, id, func(m *managed) error {
		next, err := object.Transition(object.State(m.rec.State), object.EventActivate)
		if err != nil {
			return err
		}
		m.setState(next)
		m.attrs.Set(attr.ActivationDate, attr.Date(s.now()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	return &message.ActivateResponse{UniqueIdentifier: id}, nil
}
