package server

import (
	"context"
	"crypto/tls"
	"reflect"
	"strings"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
)

// The audit middleware: one audit.Event per answered batch item, made from
// what the item named and how it ended, never from key material (no
// payload is copied into an event, only Unique Identifiers).

// auditing reports whether events go anywhere.
func (x *Executor) auditing() bool {
	if x.Audit == nil {
		return false
	}
	_, off := x.Audit.(audit.Nop)
	return !off
}

// peerOf is what the events of conn's requests say about the caller.
func peerOf(conn *tls.Conn) audit.Peer {
	p := audit.Peer{Remote: conn.RemoteAddr().String()}
	if certs := conn.ConnectionState().PeerCertificates; len(certs) > 0 {
		p.Fingerprint = Fingerprint(certs[0])
	}
	return p
}

// auditEvent appends the event of one answered item to events.
func (x *Executor) auditEvent(ctx context.Context, events []audit.Event, client ops.Client, touched string, result message.ResponseBatchItem) []audit.Event {
	if !x.auditing() {
		return nil
	}
	now := x.Now
	if now == nil {
		now = time.Now
	}
	peer := audit.PeerFrom(ctx)
	e := audit.Event{
		Time: now().UTC(), Source: audit.SourceKMIP, Tenant: client.Tenant, Client: client.Name,
		Fingerprint: peer.Fingerprint, Remote: peer.Remote,
		Operation: result.Operation.String(), UniqueID: touched, Result: "success",
	}
	if result.ResultStatus != message.StatusSuccess {
		e.Result, e.Reason = result.ResultReason.String(), result.ResultMessage
	}
	return append(events, e)
}

// record writes a message's events once its items are final (an Undo
// batch may have turned successes into Operation Undone). When the
// records cannot be written and auditing is required, every item that
// had not already failed answers General Failure instead: a Get then
// hands out no key that the trail does not show.
func (x *Executor) record(ctx context.Context, v message.Version, events []audit.Event, resp *message.Response) {
	if !x.auditing() || len(events) == 0 {
		return
	}
	for i := range events {
		if i < len(resp.Items) && resp.Items[i].ResultStatus == message.StatusOperationUndone {
			events[i].Result, events[i].Reason = "undone", "a later item of the batch failed"
		}
		if i < len(resp.Items) && resp.Items[i].ResultStatus == message.StatusOperationFailed && events[i].Result == "success" {
			// An Undo batch whose transaction could not be committed.
			events[i].Result, events[i].Reason = resp.Items[i].ResultReason.String(), resp.Items[i].ResultMessage
		}
	}
	err := audit.RecordAll(ctx, x.Audit, events)
	if err == nil {
		return
	}
	x.logAt(ctx, zerolog.ErrorLevel).Err(err).Int("items", len(events)).Bool("required", x.AuditRequired).Msg("audit record not written")
	if !x.AuditRequired {
		return
	}
	for i, it := range resp.Items {
		if it.ResultStatus == message.StatusOperationFailed {
			continue
		}
		resp.Items[i] = x.failed(v, it.Operation, it.UniqueBatchItemID,
			message.Errorf(kmip20.ResultReasonGeneralFailure, "the audit record could not be written"))
	}
}

// createsOrSearches are the operations that name no existing object in
// their request: an absent Unique Identifier does not mean the ID
// Placeholder for them.
var createsOrSearches = map[message.Operation]bool{
	kmip20.OperationCreate: true, kmip20.OperationCreateKeyPair: true, kmip20.OperationRegister: true,
	kmip20.OperationLocate: true, kmip20.OperationQuery: true, kmip20.OperationDiscoverVersions: true,
}

// touchedID is the Unique Identifier an item acted on: the one its
// response names, else the one its request names, else the ID Placeholder
// (placeholder, as it stood before the item) that an absent or
// placeholder Unique Identifier stands for. A key pair is
// "PRIVATE,PUBLIC". Locate's answers are not listed.
func touchedID(item message.RequestBatchItem, placeholder string, result message.ResponseBatchItem) string {
	if result.ResultStatus == message.StatusSuccess {
		if id := responseID(result.ResponsePayload); id != "" {
			return id
		}
	}
	for f := requestFields(item.RequestPayload); len(f) > 0 && f.ValidHeader() == nil; f = f.Next() {
		if f.Tag() != kmip14.TagUniqueIdentifier {
			continue
		}
		switch f.Type() {
		case ttlv.TypeTextString:
			return f.ValueTextString()
		case ttlv.TypeEnumeration: // the ID Placeholder
			return placeholder
		}
		return ""
	}
	if createsOrSearches[item.Operation] {
		return ""
	}
	return placeholder
}

// requestFields is the first field inside a request payload structure.
func requestFields(payload ttlv.TTLV) ttlv.TTLV {
	if len(payload) == 0 || payload.ValidHeader() != nil || payload.Type() != ttlv.TypeStructure {
		return nil
	}
	return payload.ValueStructure()
}

// responseID reads the Unique Identifier fields of a response payload
// struct.
func responseID(payload any) string {
	v := reflect.ValueOf(payload)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	text := func(name string) string {
		f := v.FieldByName(name)
		if f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
		return ""
	}
	if id := text("UniqueIdentifier"); id != "" {
		return id
	}
	var pair []string
	for _, name := range []string{"PrivateKeyUniqueIdentifier", "PublicKeyUniqueIdentifier"} {
		if id := text(name); id != "" {
			pair = append(pair, id)
		}
	}
	return strings.Join(pair, ",")
}
