package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// deleteAttribute implements Delete Attribute (KMIP 1.4 section 4.16, 2.1
// section 6.1) for attributes clients may delete. 1.x names the
// instance by Attribute Name and Attribute Index (0 when absent) and is
// answered the deleted instance; 2.x deletes the instance equal to the
// Current Attribute, or every instance of the Attribute Reference, and is
// answered the identifier.
func (s *Service) deleteAttribute(ctx context.Context, call *Call) (any, error) {
	var req message.DeleteAttributeRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	v := attr.Version(call.Version)
	v2 := call.Version.AtLeast(message.V2_0)
	var name string
	var current []byte // 2.x: the value of the one instance to delete
	switch {
	case !v2 && req.AttributeName != "":
		name = req.AttributeName
	case v2 && len(message.Trim(req.CurrentAttribute)) > 0:
		cur, err := message.DecodeAttributeIn(req.CurrentAttribute)
		if err != nil {
			return nil, err
		}
		name, current = cur.Name, cur.Value
	case v2 && len(message.Trim(req.AttributeReference)) > 0:
		if name, err = message.DecodeAttributeReference(req.AttributeReference); err != nil {
			return nil, err
		}
	case v2:
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Delete Attribute needs a Current Attribute or an Attribute Reference")
	default:
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Delete Attribute needs an Attribute Name")
	}
	r, err := vetName(v, name)
	if err != nil {
		return nil, err
	}
	if !r.ClientDelete {
		return nil, message.Errorf(kmip20.ResultReasonAttributeReadOnly, "attribute %s cannot be deleted", r.Name)
	}
	var deleted attr.Attribute
	_, err = s.update(ctx, call, id, func(m *managed) error {
		if v2 && current == nil { // every instance
			if len(m.attrs.All(r.Name)) == 0 {
				return notFound(m.attrs, r.Name)
			}
			m.attrs.Delete(r.Name)
			return nil
		}
		i := instance(m.attrs, r.Name, req.AttributeIndex, current)
		if i < 0 {
			return notFound(m.attrs, r.Name)
		}
		deleted = m.attrs[i]
		m.attrs = append(m.attrs[:i:i], m.attrs[i+1:]...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	resp := &message.AttributeResponse{UniqueIdentifier: id}
	if !v2 {
		if resp.Attribute, err = attributeItem(call.Version, deleted); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
