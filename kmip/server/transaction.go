package server

import (
	"context"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/rs/zerolog"
)

// Transactional is a Dispatcher that runs the items of a batch sent with
// the Undo option all or nothing (*ops.Service: one store transaction when
// the store has them). See ops.Service.Transaction for what kept and err
// say.
type Transactional interface {
	Transaction(ctx context.Context, j *ops.Journal, run func(ctx context.Context) bool) (kept bool, err error)
}

// transaction runs an Undo batch's items through t and gives the answered
// items their final status: an item failed → the ones before it are
// Operation Undone (their payloads kept, as the OASIS vectors show),
// unless the undo itself failed (then they stand, and say so); every item
// succeeded but the commit failed → none of them stands, so each answers
// the commit's error.
func (x *Executor) transaction(ctx context.Context, t Transactional, j *ops.Journal, items func(context.Context) bool, v message.Version, resp *message.Response) {
	var allDone bool
	kept, err := t.Transaction(ctx, j, func(ctx context.Context) bool {
		allDone = items(ctx)
		return allDone
	})
	switch {
	case !allDone && !kept:
		for i := range resp.Items[:len(resp.Items)-1] {
			resp.Items[i].ResultStatus = message.StatusOperationUndone
		}
	case !allDone:
		x.Log.Error().Err(err).Msg("batch undo failed; earlier items stand")
	case !kept:
		x.logAt(ctx, zerolog.ErrorLevel).Err(err).Msg("batch transaction not committed; every item fails")
		for i, it := range resp.Items {
			resp.Items[i] = x.failed(v, it.Operation, it.UniqueBatchItemID, err)
		}
	}
}

var _ Transactional = (*ops.Service)(nil)
