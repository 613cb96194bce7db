package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// addAttribute implements Add Attribute (KMIP 1.4 section 4.14, 2.1
// section 6.1): a new instance of an attribute clients may write (1.x:
// the Attribute, without an index; 2.x: the New Attribute). A
// single-instance attribute that is already set is refused (Attribute
// Single Valued), as is a Name in use (Non Unique Name Attribute). 1.x
// answers the instance with the index it got; 2.x only the identifier.
func (s *Service) addAttribute(ctx context.Context, call *Call) (any, error) {
	var req message.AddAttributeRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	var a attr.Attribute
	if call.Version.AtLeast(message.V2_0) {
		a, err = message.DecodeAttributeIn(req.NewAttribute)
	} else {
		a, err = message.DecodeAttribute(req.Attribute)
		if err == nil && a.Index != 0 {
			err = message.Errorf(kmip20.ResultReasonInvalidField, "Add Attribute takes no Attribute Index: the server assigns it")
		}
	}
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
	var added attr.Attribute
	_, err = s.update(ctx, call, id, func(m *managed) error {
		if err := checkState(m, r.Name); err != nil {
			return err
		}
		if !r.Multi && len(m.attrs.All(r.Name)) > 0 {
			return message.Errorf(kmip20.ResultReasonAttributeSingleValued, "the object already has %s", r.Name)
		}
		if nameTaken(m, a, -1) {
			return message.Errorf(kmip20.ResultReasonNonUniqueNameAttribute, "the object already has this Name")
		}
		m.attrs.Add(r.Name, a.Value)
		added = m.attrs[len(m.attrs)-1]
		s.applyDates(m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	resp := &message.AttributeResponse{UniqueIdentifier: id}
	if !call.Version.AtLeast(message.V2_0) {
		if resp.Attribute, err = attributeItem(call.Version, added); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
