package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// setAttribute implements Set Attribute (KMIP 2.1 section 6.1; 2.x
// only): the New Attribute becomes the object's one instance of that
// attribute, created when absent, replaced when there is one; an object
// with several instances is refused (Multi Valued Attribute), as is an
// attribute clients may not write (Attribute Read Only).
func (s *Service) setAttribute(ctx context.Context, call *Call) (any, error) {
	var req message.SetAttributeRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	a, err := message.DecodeAttributeIn(req.NewAttribute)
	if err != nil {
		return nil, err
	}
	r, err := vetWrite(attr.Version(call.Version), &a)
	if err != nil {
		return nil, err
	}
	if err := s.checkUniqueName(ctx, call, id, a); err != nil {
		return nil, err
	}
	_, err = s.update(ctx, call, id, func(m *managed) error {
		if err := checkState(m, r.Name); err != nil {
			return err
		}
		switch all := m.attrs.All(r.Name); len(all) {
		case 0:
			if nameTaken(m, a, -1) {
				return message.Errorf(kmip20.ResultReasonNonUniqueNameAttribute, "the object already has this Name")
			}
			m.attrs.Add(r.Name, a.Value)
		case 1:
			i := instance(m.attrs, r.Name, all[0].Index, nil)
			m.attrs[i].Value = a.Value
		default:
			return message.Errorf(kmip20.ResultReasonMultiValuedAttribute, "the object has %d instances of %s; use Modify Attribute", len(all), r.Name)
		}
		s.applyDates(m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	return &message.AttributeResponse{UniqueIdentifier: id}, nil
}
