package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Dispatcher runs one operation; *ops.Service is the real one.
type Dispatcher interface {
	Handle(ctx context.Context, op message.Operation, call *ops.Call) (any, error)
	// Rollback undoes what a journal recorded (Batch Error Continuation
	// Option Undo).
	Rollback(ctx context.Context, j *ops.Journal) error
}

// Executor turns a request message into a response message.
type Executor struct {
	Ops Dispatcher
	Log zerolog.Logger
	Now func() time.Time
	// Observer, when set, is told of every answered item.
	Observer Observer
	// Audit, when set, is given one event per answered batch item, all
	// of a message's items at once (see audit.go).
	Audit audit.Recorder
	// AuditRequired fails closed: items whose audit record cannot be
	// written answer General Failure.
	AuditRequired bool
}

// logAt starts a log event of the request at level (nil, which logs
// nothing, when the level is off): on the connection's logger with the
// request's number when the listener put them in ctx, on the executor's
// otherwise. The number is added per event rather than with a logger per
// request: most requests log nothing.
func (x *Executor) logAt(ctx context.Context, level zerolog.Level) *zerolog.Event {
	l := zerolog.Ctx(ctx)
	if l == zerolog.DefaultContextLogger || l.GetLevel() == zerolog.Disabled {
		return x.Log.WithLevel(level)
	}
	ev := l.WithLevel(level)
	if ev == nil { // level disabled (the per-request debug line at info)
		return nil
	}
	if n, ok := requestNumber(ctx); ok {
		ev = ev.Uint64("request", n)
	}
	return ev
}

// requestKey is the context key of the connection's connRequest.
type requestKey struct{}

// connRequest is the number of the request a connection is serving; the
// connection's goroutine updates it between its requests.
type connRequest struct{ n uint64 }

func requestNumber(ctx context.Context) (uint64, bool) {
	r, ok := ctx.Value(requestKey{}).(*connRequest)
	if !ok {
		return 0, false
	}
	return r.n, true
}

// Execute answers one request message from a client of tenant with no
// profile; see ExecuteFor.
func (x *Executor) Execute(ctx context.Context, tenant string, msg []byte) []byte {
	return x.ExecuteFor(ctx, ops.Client{Tenant: tenant}, msg)
}

// ExecuteFor answers one request message from client. It always returns an
// encoded response (an Invalid Message one for input that is not a KMIP
// request); it never panics.
func (x *Executor) ExecuteFor(ctx context.Context, client ops.Client, msg []byte) []byte {
	if err := wire.Check(msg); err != nil {
		return x.failure(message.V1_0, message.Errorf(kmip20.ResultReasonInvalidMessage, "%v", err))
	}
	req, err := message.DecodeRequest(msg)
	if err != nil {
		v, ok := message.PeekVersion(msg)
		if !ok {
			v = message.V1_0
		}
		return x.failure(message.Negotiate(v), message.Errorf(kmip20.ResultReasonInvalidMessage, "%v", err))
	}
	resp := x.run(ctx, client, req)
	out, err := message.Marshal(resp)
	if err != nil {
		x.Log.Error().Err(err).Msg("encode response")
		return x.failure(resp.Header.ProtocolVersion, message.Errorf(kmip20.ResultReasonGeneralFailure, "response could not be encoded"))
	}
	if max := req.Header.MaximumResponseSize; max > 0 && len(out) > int(max) {
		return x.tooLarge(resp, int(max))
	}
	return out
}

// Reject answers a frame that could not be read as a message at all (its
// version is unknown, so the answer is in 1.0, which every client reads).
func (x *Executor) Reject(err error) []byte {
	return x.failure(message.V1_0, message.Errorf(kmip20.ResultReasonInvalidMessage, "%v", err))
}

// run executes the batch items in order.
func (x *Executor) run(ctx context.Context, client ops.Client, req *message.Request) *message.Response {
	h := req.Header
	v := message.Negotiate(h.ProtocolVersion)
	resp := &message.Response{Header: x.header(v)}
	if v.AtLeast(message.V1_4) {
		resp.Header.ClientCorrelationValue = h.ClientCorrelationValue
	}
	if h.ProtocolVersion == (message.Version{}) {
		resp.Items = []message.ResponseBatchItem{x.failed(v, 0, nil,
			message.Errorf(kmip20.ResultReasonInvalidMessage, "request header missing, or without a Protocol Version"))}
		resp.Header.BatchCount = 1
		return resp
	}
	if int(h.BatchCount) != len(req.Items) || len(req.Items) == 0 {
		resp.Items = []message.ResponseBatchItem{x.failed(v, 0, nil,
			message.Errorf(kmip20.ResultReasonInvalidMessage, "batch count %d but %d batch items", h.BatchCount, len(req.Items)))}
		resp.Header.BatchCount = 1
		return resp
	}
	if o := h.BatchErrorContinuationOption; o > message.BatchErrorUndo {
		// Not Continue, Stop or Undo: guessing would run the batch with
		// an error handling the client did not ask for.
		resp.Items = []message.ResponseBatchItem{x.failed(v, 0, nil,
			message.Errorf(kmip20.ResultReasonInvalidField, "Batch Error Continuation Option 0x%x is not an option", o))}
		resp.Header.BatchCount = 1
		return resp
	}
	if client.Authenticate != nil {
		if err := client.Authenticate(ctx, h.Authentication); err != nil {
			return x.refuseItems(v, resp, req.Items, err)
		}
	}
	stopOnError := h.BatchErrorContinuationOption != message.BatchErrorContinue
	var journal *ops.Journal
	if h.BatchErrorContinuationOption == message.BatchErrorUndo {
		journal = &ops.Journal{}
	}
	ctx, deferred := x.deferDurability(ctx, req, journal != nil)
	unheld := ctx
	ctx, held := x.holdWrites(ctx, req, journal != nil)
	placeholder := ""
	var events []audit.Event
	// items runs the batch's items in order with ctx (an Undo batch's
	// transaction), and reports whether none failed.
	items := func(ctx context.Context) bool {
		for _, item := range req.Items {
			var result message.ResponseBatchItem
			touched := ""
			dateErr := message.CheckDates(item.RequestPayload)
			switch {
			case h.AsynchronousIndicator:
				result = x.failed(v, item.Operation, item.UniqueBatchItemID,
					message.Errorf(kmip20.ResultReasonFeatureNotSupported, "asynchronous operations are not supported"))
			case !h.ProtocolVersion.IsSupported() && item.Operation != kmip20.OperationDiscoverVersions:
				result = x.failed(v, item.Operation, item.UniqueBatchItemID,
					message.Errorf(kmip20.ResultReasonUnsupportedProtocolVersion, "protocol version %s is not supported; use Discover Versions", h.ProtocolVersion))
			case item.Operation == 0:
				result = x.failed(v, 0, item.UniqueBatchItemID, message.Errorf(kmip20.ResultReasonInvalidMessage, "batch item without an operation"))
			case dateErr != nil:
				result = x.failed(v, item.Operation, item.UniqueBatchItemID, dateErr)
			default:
				call := &ops.Call{Version: v, Tenant: client.Tenant, Policy: client.Policy, Payload: item.RequestPayload, Placeholder: placeholder, Journal: journal}
				result = x.item(ctx, item, call)
				touched = touchedID(item, placeholder, result)
				placeholder = call.Placeholder
			}
			resp.Items = append(resp.Items, result)
			events = x.auditEvent(ctx, events, client, touched, result)
			if result.ResultStatus != message.StatusSuccess && stopOnError {
				return false
			}
		}
		return true
	}
	switch t, ok := x.Ops.(Transactional); {
	case journal != nil && ok:
		x.transaction(ctx, t, journal, items, v, resp)
	case !items(ctx) && journal != nil:
		x.undo(ctx, journal, resp.Items[:len(resp.Items)-1])
	}
	if wait, err := held.FlushDeferred(); err != nil {
		if held.Retry() {
			// Nothing of the message was committed: run it again as it
			// would have run without write-behind (writebehind.go).
			x.logAt(ctx, zerolog.DebugLevel).Err(err).Msg("held writes refused; the message runs again without holding them")
			resp.Items, events, placeholder = nil, nil, ""
			items(unheld)
		} else {
			x.logAt(ctx, zerolog.ErrorLevel).Err(err).Msg("the message's held writes were not committed; its items fail")
			for i, it := range resp.Items {
				if it.ResultStatus == message.StatusSuccess {
					resp.Items[i] = x.failed(v, it.Operation, it.UniqueBatchItemID, err)
				}
			}
		}
	} else if wait != nil {
		// The held writes are being committed: their commit overlaps the
		// audit records, as a single item's does (durable.go).
		if deferred == nil {
			deferred = &store.Deferred{}
		}
		deferred.Defer(wait)
	}
	x.recordDurable(ctx, v, events, resp, deferred)
	resp.Header.BatchCount = int32(len(resp.Items))
	return resp
}

// item runs one operation, turning a panic into a General Failure.
func (x *Executor) item(ctx context.Context, item message.RequestBatchItem, call *ops.Call) (result message.ResponseBatchItem) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			x.Log.Error().Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack()).Str("operation", item.Operation.String()).Msg("operation panicked")
			result = x.failed(call.Version, item.Operation, item.UniqueBatchItemID, errors.New("panic"))
		}
	}()
	payload, err := x.Ops.Handle(ctx, item.Operation, call)
	took := time.Since(start)
	operation := item.Operation.String()
	ev := x.logAt(ctx, zerolog.DebugLevel).Str("operation", operation).Str("version", call.Version.String()).
		Str("tenant", call.Tenant).Dur("took", took)
	if err != nil {
		result = x.failed(call.Version, item.Operation, item.UniqueBatchItemID, err)
		reason := result.ResultReason.String()
		ev.Str("result", reason).Str("result_message", result.ResultMessage).Msg("request")
		x.observe(operation, call, reason, took)
		return result
	}
	ev.Str("result", "success").Msg("request")
	x.observe(operation, call, "success", took)
	return message.ResponseBatchItem{
		Operation: item.Operation, UniqueBatchItemID: item.UniqueBatchItemID,
		ResultStatus: message.StatusSuccess, ResponsePayload: payload,
	}
}

// undo rolls back the items that succeeded before a failure in an Undo
// batch and marks them Operation Undone, keeping their payloads as the
// OASIS vectors (BL-M-2-21) show (KMIP 1.4 section 6.13). If the rollback
// itself fails they keep their success: the client must know those
// changes stand.
func (x *Executor) undo(ctx context.Context, j *ops.Journal, done []message.ResponseBatchItem) {
	if err := x.Ops.Rollback(ctx, j); err != nil {
		x.Log.Error().Err(err).Msg("batch undo failed; earlier items stand")
		return
	}
	for i := range done {
		done[i].ResultStatus = message.StatusOperationUndone
	}
}

func (x *Executor) observe(operation string, call *ops.Call, result string, took time.Duration) {
	if x.Observer != nil {
		x.Observer.Request(operation, call.Version.String(), call.Tenant, result, took)
	}
}

// failed builds the response item for an error, logging what the client
// is not told.
func (x *Executor) failed(v message.Version, op message.Operation, batchID []byte, err error) message.ResponseBatchItem {
	r := ops.ResultFor(v, err)
	if r.ErrorID != "" {
		x.Log.Error().Err(err).Str("error_id", r.ErrorID).Str("operation", op.String()).Msg("operation failed")
	}
	return message.ResponseBatchItem{
		Operation: op, UniqueBatchItemID: batchID,
		ResultStatus: message.StatusOperationFailed, ResultReason: r.Reason, ResultMessage: r.Message,
	}
}

func (x *Executor) header(v message.Version) message.ResponseHeader {
	now := time.Now
	if x.Now != nil {
		now = x.Now
	}
	return message.ResponseHeader{ProtocolVersion: v, TimeStamp: now().UTC().Truncate(time.Second)}
}

// failure encodes a response with one failed item, for a message that
// could not be decoded into batch items.
func (x *Executor) failure(v message.Version, err error) []byte {
	resp := message.Response{Header: x.header(v), Items: []message.ResponseBatchItem{x.failed(v, 0, nil, err)}}
	resp.Header.BatchCount = 1
	out, mErr := message.Marshal(resp)
	if mErr != nil { // cannot happen with these fixed types; never answer nothing
		x.Log.Error().Err(mErr).Msg("encode failure response")
		return nil
	}
	return out
}

// tooLarge replaces every item's payload with a Response Too Large error
// (KMIP 1.4 section 6.3, Maximum Response Size).
func (x *Executor) tooLarge(resp *message.Response, max int) []byte {
	v := resp.Header.ProtocolVersion
	for i, it := range resp.Items {
		resp.Items[i] = x.failed(v, it.Operation, it.UniqueBatchItemID,
			message.Errorf(kmip20.ResultReasonResponseTooLarge, "response exceeds the Maximum Response Size of %d bytes", max))
	}
	out, err := message.Marshal(resp)
	if err != nil {
		return x.failure(v, err)
	}
	return out
}
