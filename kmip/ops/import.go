package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// importObject implements Import (KMIP 2.0 section 6.1.24): Register under
// the Unique Identifier the request gives. A wrapped Key Block is
// unwrapped (see wrap.go). Of the attributes, those a client may set are
// taken; those the server keeps (state, dates, digest...) are its own
// again, as for any new object. An existing object of that identifier is
// refused (Object Already Exists) unless Replace Existing is set.
func (s *Service) importObject(ctx context.Context, call *Call) (any, error) {
	var req message.ImportRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if req.UniqueIdentifier == "" {
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Import needs the Unique Identifier of the object")
	}
	if isShared(req.UniqueIdentifier) {
		return nil, errReadOnly(req.UniqueIdentifier)
	}
	list, err := message.DecodeAttributes(req.Attributes)
	if err != nil {
		return nil, err
	}
	var settable attr.List
	for _, a := range list {
		if r, ok := attr.Lookup(attr.Canonical(a.Name)); ok && r.Template {
			settable = append(settable, a)
		}
	}
	attributes, err := message.EncodeAttributes(call.Version, kmip20.TagAttributes, settable)
	if err != nil {
		return nil, err
	}
	// The old object goes and the new one comes in one transaction: a
	// failed Import leaves the old one in place.
	var resp *message.RegisterResponse
	err = s.atomic(ctx, call, func(ctx context.Context) error {
		old, err := s.db(ctx).GetObject(ctx, call.Tenant, req.UniqueIdentifier)
		switch {
		case err == nil && !req.ReplaceExisting:
			return message.Errorf(kmip20.ResultReasonObjectAlreadyExists, "object %s exists; set Replace Existing to replace it", req.UniqueIdentifier)
		case err == nil:
			call.Journal.updated(snapshot(old))
			if err := s.db(ctx).DeleteObject(ctx, call.Tenant, req.UniqueIdentifier); err != nil {
				return fmt.Errorf("replace object %s: %w", req.UniqueIdentifier, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		reg := req.Register(attributes)
		resp, err = s.registerAs(ctx, call, &reg, req.UniqueIdentifier)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &message.ImportResponse{UniqueIdentifier: resp.UniqueIdentifier}, nil
}
