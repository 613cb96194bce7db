package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// archive implements Archive (KMIP 1.4 section 4.22): the object leaves
// on-line storage. It keeps its state and attributes, Locate finds it only
// when asked for archived objects, and every other operation answers
// Object Archived until it is recovered.
func (s *Service) archive(ctx context.Context, call *Call) (any, error) {
	return s.setArchived(ctx, call, true)
}

// recoverObject implements Recover (KMIP 1.4 section 4.23): an archived object
// returns to on-line storage.
func (s *Service) recoverObject(ctx context.Context, call *Call) (any, error) {
	return s.setArchived(ctx, call, false)
}

func (s *Service) setArchived(ctx context.Context, call *Call, archived bool) (any, error) {
	var req message.ArchiveRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	_, err = s.modify(ctx, call, id, s.loadArchived, func(m *managed) error {
		if m.rec.Archived == archived {
			if archived {
				return message.Errorf(kmip20.ResultReasonObjectArchived, "object %s is already archived", id)
			}
			return message.Errorf(kmip20.ResultReasonIllegalOperation, "object %s is not archived", id)
		}
		m.rec.Archived = archived
		return nil
	})
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	return &message.ArchiveResponse{UniqueIdentifier: id}, nil
}
