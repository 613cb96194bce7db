package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// revoke implements Revoke (KMIP 1.4 section 4.20). A key or CA compromise
// moves the object to Compromised (Destroyed Compromised if it was
// destroyed) and records the compromise dates; any other reason
// deactivates it now.
func (s *Service) revoke(ctx context.Context, call *Call) (any, error) {
	var req message.RevokeRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	code := req.RevocationReason.RevocationReasonCode
	if code == 0 {
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Revocation Reason is required")
	}
	compromise := code == kmip14.RevocationReasonCodeKeyCompromise || code == kmip14.RevocationReasonCodeCACompromise
	if compromise && req.CompromiseOccurrenceDate.IsZero() {
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Compromise Occurrence Date is required for a %s revocation", code)
	}
	reason, err := attr.Struct(req.RevocationReason)
	if err != nil {
		return nil, err
	}
	_, err = s.update(ctx, call, id, func(m *managed) error {
		now := s.now()
		event := object.EventDeactivate
		if compromise {
			event = object.EventCompromise
		}
		next, err := object.Transition(object.State(m.rec.State), event)
		if err != nil {
			return err
		}
		m.setState(next)
		m.attrs.Set(attr.RevocationReason, reason)
		if compromise {
			m.attrs.Set(attr.CompromiseOccurrenceDate, attr.Date(req.CompromiseOccurrenceDate))
			m.attrs.Set(attr.CompromiseDate, attr.Date(now))
		} else {
			m.attrs.Set(attr.DeactivationDate, attr.Date(now))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	return &message.RevokeResponse{UniqueIdentifier: id}, nil
}
