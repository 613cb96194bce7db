package ops

import (
	"context"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// rekeyKeyPair implements Re-key Key Pair (KMIP 1.4 section 4.5, 2.1
// section 6.1.43): a new pair made as Create Key Pair makes one (kept in
// the root of trust when the old private key is not Extractable), with the
// attributes a client may set copied from each old half, the request's
// attributes over them, the lifecycle dates of Re-key, the Names moved
// from the old halves, and Replaced/Replacement Object links between old
// and new halves. The new private key's identifier becomes the ID
// Placeholder.
func (s *Service) rekeyKeyPair(ctx context.Context, call *Call) (any, error) {
	var req message.ReKeyKeyPairRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	privID, err := req.PrivateKeyUniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	offset, err := rekeyOffset(req.Offset)
	if err != nil {
		return nil, err
	}
	oldPriv, err := s.load(ctx, call, privID)
	if err != nil {
		return nil, err
	}
	if oldPriv.shared != nil {
		return nil, errReadOnly(privID)
	}
	if oldPriv.rec.ObjectType != uint32(kmip14.ObjectTypePrivateKey) {
		return nil, message.Errorf(kmip20.ResultReasonIllegalOperation, "Re-key Key Pair replaces key pairs named by their private key; %s is a %s", privID, kmip14.ObjectType(oldPriv.rec.ObjectType))
	}
	if _, err := object.Transition(object.State(oldPriv.rec.State), object.EventUse); err != nil {
		return nil, err
	}
	pubID := linked(oldPriv.attrs, kmip14.LinkTypePublicKeyLink)
	if pubID == "" {
		return nil, message.Errorf(kmip20.ResultReasonIllegalOperation, "private key %s has no Public Key Link", privID)
	}
	oldPub, err := s.load(ctx, call, pubID)
	if err != nil {
		return nil, err
	}
	privOwn, pubOwn, err := s.pairAttributes(ctx, call, pairTemplates{
		req.CommonTemplateAttribute, req.CommonAttributes,
		req.PrivateKeyTemplateAttribute, req.PrivateKeyAttributes,
		req.PublicKeyTemplateAttribute, req.PublicKeyAttributes,
	})
	if err != nil {
		return nil, err
	}
	now := s.now()
	privAttrs := replacementAttrs(oldPriv.attrs, privOwn, now, offset)
	pubAttrs := replacementAttrs(oldPub.attrs, pubOwn, now, offset)
	for _, l := range []attr.List{privAttrs, pubAttrs} {
		if err := checkClientAttributes(l); err != nil {
			return nil, err
		}
	}
	// The new pair and the four links in one transaction: a failed
	// Re-key Key Pair leaves no unlinked pair behind.
	var pair *message.CreateKeyPairResponse
	err = s.atomic(ctx, call, func(ctx context.Context) error {
		var err error
		if pair, err = s.makePair(ctx, call, privAttrs, pubAttrs); err != nil {
			return err
		}
		for _, l := range []struct {
			old   *managed
			newID string
		}{{oldPriv, pair.PrivateKeyUniqueIdentifier}, {oldPub, pair.PublicKeyUniqueIdentifier}} {
			names := l.old.attrs.All(attr.Name)
			oldID := l.old.rec.ID
			if _, err := s.update(ctx, call, l.newID, func(m *managed) error {
				for _, n := range names {
					m.attrs.Add(attr.Name, n.Value)
				}
				m.attrs.Add(attr.Link, mustLink(kmip14.LinkTypeReplacedObjectLink, oldID))
				return nil
			}); err != nil {
				return err
			}
			if _, err := s.update(ctx, call, oldID, func(m *managed) error {
				m.attrs.Delete(attr.Name)
				m.attrs.Add(attr.Link, mustLink(kmip14.LinkTypeReplacementObjectLink, l.newID))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = pair.PrivateKeyUniqueIdentifier
	return &message.ReKeyKeyPairResponse{PrivateKeyUniqueIdentifier: pair.PrivateKeyUniqueIdentifier, PublicKeyUniqueIdentifier: pair.PublicKeyUniqueIdentifier}, nil
}

// replacementAttrs are a replacement key's attributes: those of the old
// key a client may set (not its Names or links), the request's over them,
// and the lifecycle dates Re-key gives.
func replacementAttrs(old, override attr.List, now time.Time, offset *time.Duration) attr.List {
	var out attr.List
	for _, a := range old {
		r, ok := attr.Lookup(a.Name)
		if !ok || !r.Template || rekeyNotCopied[a.Name] {
			continue
		}
		if _, over := override.Get(a.Name); over {
			continue
		}
		out = append(out, a)
	}
	out = append(out, override...)
	dates := rekeyDates(old, now, offset)
	for _, name := range []string{attr.ActivationDate, attr.ProcessStartDate, attr.ProtectStopDate, attr.DeactivationDate} {
		if _, overridden := override.Get(name); overridden {
			continue
		}
		out.Delete(name)
		if t, ok := dates[name]; ok {
			out.Set(name, attr.Date(t))
		}
	}
	return out
}

// linked returns the identifier of the object's first link of type t.
func linked(attrs attr.List, t kmip14.LinkType) string {
	for _, a := range attrs.All(attr.Link) {
		var l message.Link
		if message.Unmarshal(a.Value, &l) == nil && l.LinkType == uint32(t) {
			return l.LinkedObjectIdentifier
		}
	}
	return ""
}
