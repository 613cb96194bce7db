package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// modifyAttribute implements Modify Attribute (KMIP 1.4 section 4.15, 2.1
// section 6.1): a new value for an existing instance of an attribute
// clients may write. 1.x names the instance by its Attribute Index (0 when
// absent) and is answered the modified instance; 2.x names it by its
// Current Attribute, which may be left out when the object has one
// instance, and is answered the identifier. Lifecycle dates change only in
// the states that allow it (Wrong Key Lifecycle State; 1.x Permission
// Denied).
func (s *Service) modifyAttribute(ctx context.Context, call *Call) (any, error) {
	var req message.ModifyAttributeRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	v2 := call.Version.AtLeast(message.V2_0)
	var a attr.Attribute
	var current []byte // 2.x: the value of the instance to replace
	if v2 {
		if a, err = message.DecodeAttributeIn(req.NewAttribute); err != nil {
			return nil, err
		}
		if len(message.Trim(req.CurrentAttribute)) > 0 {
			cur, err := message.DecodeAttributeIn(req.CurrentAttribute)
			if err != nil {
				return nil, err
			}
			if attr.Canonical(cur.Name) != attr.Canonical(a.Name) {
				return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Current Attribute is %s but New Attribute is %s", cur.Name, a.Name)
			}
			current = cur.Value
		}
	} else if a, err = message.DecodeAttribute(req.Attribute); err != nil {
		return nil, err
	}
	r, err := vetWrite(attr.Version(call.Version), &a)
	if err != nil {
		return nil, err
	}
	if err := s.checkUniqueName(ctx, call, id, a); err != nil {
		return nil, err
	}
	var modified attr.Attribute
	_, err = s.update(ctx, call, id, func(m *managed) error {
		if err := checkState(m, r.Name); err != nil {
			return err
		}
		i := -1
		switch {
		case !v2:
			i = instance(m.attrs, r.Name, a.Index, nil)
		case current != nil:
			i = instance(m.attrs, r.Name, 0, current)
		default:
			switch n := len(m.attrs.All(r.Name)); {
			case n > 1:
				return message.Errorf(kmip20.ResultReasonMultiValuedAttribute, "the object has %d instances of %s: name one as the Current Attribute", n, r.Name)
			case n == 1:
				i = instance(m.attrs, r.Name, m.attrs.All(r.Name)[0].Index, nil)
			}
		}
		if i < 0 {
			return notFound(m.attrs, r.Name)
		}
		if nameTaken(m, a, i) {
			return message.Errorf(kmip20.ResultReasonNonUniqueNameAttribute, "the object already has this Name")
		}
		m.attrs[i].Value = a.Value
		modified = m.attrs[i]
		s.applyDates(m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	resp := &message.AttributeResponse{UniqueIdentifier: id}
	if !v2 {
		if resp.Attribute, err = attributeItem(call.Version, modified); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
