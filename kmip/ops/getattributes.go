package ops

import (
	"context"
	"errors"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// getAttributes implements Get Attributes (KMIP 1.4 section 4.12, 2.1
// section 6.1): the requested attributes (1.x by name, 2.x by Attribute
// Reference), every instance of each, in the order asked; all of them
// when none is named. Attributes the object lacks, and names the client's
// version does not know, are left out; so is any attribute that version
// cannot carry. 1.x answers a list of Attribute items, 2.x one Attributes
// structure.
func (s *Service) getAttributes(ctx context.Context, call *Call) (any, error) {
	var req message.GetAttributesRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	names := req.AttributeName
	if call.Version.AtLeast(message.V2_0) {
		names = nil
		for _, ref := range req.AttributeReference {
			name, err := message.DecodeAttributeReference(ref)
			var me *message.Error
			if errors.As(err, &me) && me.Reason == kmip20.ResultReasonUnsupportedAttribute {
				continue // a tag that is no attribute: nothing to answer
			}
			if err != nil {
				return nil, err
			}
			names = append(names, name)
		}
	}
	m, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	list := selectAttributes(attr.Version(call.Version), m.attrs, names)

	resp := &message.GetAttributesResponse{UniqueIdentifier: id}
	if call.Version.AtLeast(message.V2_0) {
		if resp.Attributes, err = message.EncodeAttributes(call.Version, kmip20.TagAttributes, list); err != nil {
			return nil, err
		}
		return resp, nil
	}
	for _, a := range list {
		item, ok, err := message.EncodeAttribute(call.Version, a)
		if err != nil {
			return nil, err
		}
		if ok {
			resp.Attribute = append(resp.Attribute, item)
		}
	}
	return resp, nil
}

// selectAttributes picks the named attributes of l, in the order named,
// every instance of each in index order; all of l (in display order) when
// no name is given. Each name counts once; names unknown in v are skipped.
func selectAttributes(v attr.Version, l attr.List, names []string) attr.List {
	if len(names) == 0 {
		return displayOrder(l, false)
	}
	var out attr.List
	done := map[string]bool{}
	for _, name := range names {
		name = attr.Canonical(name)
		if done[name] || !attr.Known(v, name) {
			continue
		}
		done[name] = true
		out = append(out, displayOrder(l.All(name), false)...)
	}
	return out
}

// attributeItem renders one attribute as a 1.x answer carries it (nil if
// version v cannot carry it).
func attributeItem(v message.Version, a attr.Attribute) (ttlv.TTLV, error) {
	item, _, err := message.EncodeAttribute(v, a)
	return item, err
}
