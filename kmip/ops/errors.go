package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Result is what a client is told about a failed item.
type Result struct {
	Reason  message.Reason
	Message string
	// ErrorID links the client's General Failure to the server's log line;
	// empty when the error is the client's.
	ErrorID string
}

// known maps the packages' sentinel errors to Result Reasons. Reasons are
// in their 2.x form; message.ReasonFor turns them into what the client's
// version has.
var known = []struct {
	err     error
	reason  message.Reason
	message string
}{
	{store.ErrNotFound, kmip20.ResultReasonObjectNotFound, "object not found"},
	{object.ErrDestroyed, kmip20.ResultReasonObjectDestroyed, "object destroyed"},
	{object.ErrWrongState, kmip20.ResultReasonWrongKeyLifecycleState, ""},
	{attr.ErrType, kmip20.ResultReasonInvalidField, ""},
	{errRecordIntegrity, kmip20.ResultReasonGeneralFailure, "stored record failed its integrity check; see the server log"},
	{backend.ErrIntegrity, kmip20.ResultReasonCryptographicFailure, "stored key material failed its integrity check"},
	{backend.ErrUnavailable, kmip20.ResultReasonGeneralFailure, "root of trust unavailable; retry later"},
	{backend.ErrKeyMissing, kmip20.ResultReasonGeneralFailure, "root of trust is missing a key; see the server log"},
	{backend.ErrNotSupported, kmip20.ResultReasonFeatureNotSupported, "the root of trust does not offer this with a key kept there (SoftHSM2, for one, does RSA-OAEP with SHA-1 only and HMAC with keys at least as long as the hash)"},
	{store.ErrUnavailable, kmip20.ResultReasonGeneralFailure, "object store unavailable; retry later"},
	{store.ErrConflict, kmip20.ResultReasonGeneralFailure, "object changed concurrently; retry"},
	{context.DeadlineExceeded, kmip20.ResultReasonGeneralFailure, "request timed out"},
}

// ResultFor maps any error a handler returns to what version v's client is
// told. A *message.Error is the client's own doing and is passed through;
// a known sentinel gets its reason; anything else is a General Failure
// with an error id, its text left to the server's log.
func ResultFor(v message.Version, err error) Result {
	var me *message.Error
	if errors.As(err, &me) {
		return Result{Reason: message.ReasonFor(v, me.Reason), Message: me.Message}
	}
	for _, k := range known {
		if errors.Is(err, k.err) {
			msg := k.message
			if msg == "" {
				msg = err.Error()
			}
			r := Result{Reason: message.ReasonFor(v, k.reason), Message: msg}
			if k.reason == kmip20.ResultReasonGeneralFailure || k.reason == kmip20.ResultReasonCryptographicFailure {
				r.ErrorID = newErrorID()
				r.Message += " (error id " + r.ErrorID + ")"
			}
			return r
		}
	}
	id := newErrorID()
	return Result{Reason: kmip20.ResultReasonGeneralFailure, Message: "internal error (error id " + id + ")", ErrorID: id}
}

func newErrorID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
