package server

import (
	"context"
	"time"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Overlapping the store's commit with the audit record's.
//
// A Create is answered once its object is durable in the store and its
// audit record is on disk. Done in turn, that is the store's commit (two
// fdatasyncs) and then the log's (one more). For the operations below, in
// a message of one item, the executor asks the store to defer the
// durability wait (store.WithDeferredDurability): the store returns from
// the object's write (CreateObject or UpdateObject; every other write
// stays durable on return) once it is in a transaction whose checks
// passed and whose commit has begun, the operation finishes, the audit
// record is handed to the log, and the executor waits for the store's
// commit and the log's together.
//
// Why the guarantees hold:
//   - an answered object is durable: nothing is answered before Wait
//     returned nil, which is the store's commit returning;
//   - a record is on disk before its operation answers: record returns
//     only then, as before;
//   - a record never claims a success that a failed commit undid: when
//     the commit fails, the item answers the failure and a correction
//     record (same operation and Unique Identifier, the failure as its
//     result, "correction" in its reason) is written after the success
//     record, in the same chain, before the answer;
//   - within the operation nothing changes: any later call of the store
//     with the same context waits for the deferred commit first.
//
// What a crash can leave differs only for operations that were never
// answered: before, a crash between the two syncs could leave a stored
// object without its record; now it can also leave a success record of an
// operation whose write did not reach the disk (no client was told of it).
// A record says the server executed the operation; its answer, and an
// acknowledged object, are guaranteed only with the store's commit.
//
// Only operations whose store write is their last act take this path:
// nothing they do after it could outlive a failed commit (a Destroy, say,
// destroys HSM objects after its write, and must not do so for a commit
// that may still fail). A Get writes only the first time an object is
// served (Fresh becomes False), after its answer is built; the attribute
// edits and Activate write the object once, at their end. Other writers
// of the same object wait no longer for the commit in flight (its
// per-object lock is released with the operation): they read the
// revision before it, their write is refused as a conflict once it
// commits, and they retry from the new one, as with any concurrent writer.
var overlapsCommit = map[message.Operation]bool{
	kmip20.OperationCreate:          true,
	kmip20.OperationCreateKeyPair:   true,
	kmip20.OperationRegister:        true,
	kmip20.OperationGet:             true,
	kmip20.OperationActivate:        true,
	kmip20.OperationAddAttribute:    true,
	kmip20.OperationModifyAttribute: true,
	kmip20.OperationSetAttribute:    true,
	kmip20.OperationDeleteAttribute: true,
}

// deferDurability returns the context to run a message's items with and,
// when the message's store commit is to overlap its audit record, the
// Deferred that waits for that commit.
func (x *Executor) deferDurability(ctx context.Context, req *message.Request, undo bool) (context.Context, *store.Deferred) {
	if undo || len(req.Items) != 1 || !overlapsCommit[req.Items[0].Operation] || !x.auditing() {
		return ctx, nil
	}
	return store.WithDeferredDurability(ctx)
}

// recordDurable writes the message's audit records while the store
// commits its writes, and returns once both are done. If the commit
// failed, every item that had succeeded answers the failure, and a
// correction record follows its success record.
func (x *Executor) recordDurable(ctx context.Context, v message.Version, events []audit.Event, resp *message.Response, d *store.Deferred) {
	if !d.Pending() {
		x.record(ctx, v, events, resp)
		return
	}
	committed := make(chan error, 1)
	go func() { committed <- d.Wait() }()
	x.record(ctx, v, events, resp)
	err := <-committed
	if err == nil {
		return
	}
	x.logAt(ctx, zerolog.ErrorLevel).Err(err).Msg("store commit failed after the operation's audit record was written")
	var corrections []audit.Event
	for i, it := range resp.Items {
		if it.ResultStatus == message.StatusSuccess {
			resp.Items[i] = x.failed(v, it.Operation, it.UniqueBatchItemID, err)
		}
		if i < len(events) && events[i].Result == "success" {
			e := events[i]
			e.Time = time.Now().UTC()
			e.Result = resp.Items[i].ResultReason.String()
			e.Reason = "correction of the record before: the store commit failed, the operation did not take effect: " + resp.Items[i].ResultMessage
			corrections = append(corrections, e)
		}
	}
	if len(corrections) == 0 {
		return
	}
	if cerr := audit.RecordAll(ctx, x.Audit, corrections); cerr != nil {
		x.logAt(ctx, zerolog.ErrorLevel).Err(cerr).Int("items", len(corrections)).Msg("audit correction record not written")
	}
}
