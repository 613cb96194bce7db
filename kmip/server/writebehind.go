package server

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// One commit for a message of attribute edits.
//
// vCenter adds three attributes to every key it creates in one message of
// three Add Attribute items. Run one after the other, each item's write
// is a store commit of its own (two fdatasyncs), and each waits for the
// one before it. For a message whose items only read existing objects and
// edit them (holdsWrites), the executor asks the store to hold the
// writes back (store.WithWriteBehind): an item reads what an earlier item
// of the message wrote from the held copy, and the held writes are
// applied together, in one transaction, after the last item; that
// transaction's commit overlaps the message's audit records, as a single
// item's does (durable.go), and nothing is answered before both are done.
//
// The message's outcome is the same as with a commit per item:
//   - if a held write is refused when it is finally applied (another
//     client changed the object in between), nothing of the message was
//     committed or recorded, and the items run again from the start
//     without write-behind, as they would have run;
//   - if the writes fail otherwise as they are applied, nothing of them
//     was committed either, and every item that had succeeded answers the
//     failure (and is recorded so);
//   - if the commit fails after the records were written, every item that
//     had succeeded answers the failure, and a correction record follows
//     each success record;
//   - a store call that must see the held writes (a search by Name, say)
//     commits them first, and the later writes go to the store at once.
//
// Only operations with no effect outside the store qualify: running them
// again, or not at all, leaves nothing behind.
var holdsWrites = map[message.Operation]bool{
	kmip20.OperationGet:              true,
	kmip20.OperationGetAttributes:    true,
	kmip20.OperationGetAttributeList: true,
	kmip20.OperationAddAttribute:     true,
	kmip20.OperationModifyAttribute:  true,
	kmip20.OperationSetAttribute:     true,
	kmip20.OperationDeleteAttribute:  true,
	kmip20.OperationActivate:         true,
}

// holdWrites returns the context to run a message's items with and, when
// their writes are to be held back until the last item, the WriteBehind
// that holds them. A message of one item has nothing to share a commit
// with (it overlaps its commit with its audit record instead, durable.go).
func (x *Executor) holdWrites(ctx context.Context, req *message.Request, undo bool) (context.Context, *store.WriteBehind) {
	if undo || len(req.Items) < 2 || req.Header.AsynchronousIndicator {
		return ctx, nil
	}
	for _, it := range req.Items {
		if !holdsWrites[it.Operation] {
			return ctx, nil
		}
	}
	return store.WithWriteBehind(ctx)
}
