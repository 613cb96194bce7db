package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// check implements Check (KMIP 1.4 section 4.10): the object must exist, be
// usable, and allow every usage the client names in its Cryptographic
// Usage Mask. The server grants no leases and keeps no usage counts, so
// Lease Time and Usage Limits Count always pass.
func (s *Service) check(ctx context.Context, call *Call) (any, error) {
	var req message.CheckRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	m, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	if _, err := object.Transition(object.State(m.rec.State), object.EventUse); err != nil {
		return nil, err
	}
	if req.CryptographicUsageMask != 0 {
		var mask int32
		if a, ok := m.attrs.Get(attr.CryptographicUsageMask); ok {
			if mask, err = a.Int(); err != nil {
				return nil, err
			}
		}
		if req.CryptographicUsageMask&^mask != 0 {
			return nil, message.Errorf(kmip20.ResultReasonIncompatibleCryptographicUsageMask, "Check Failed")
		}
	}
	return &message.CheckResponse{UniqueIdentifier: id}, nil
}

// interop implements Interop (KMIP 2.0 section 6.1.26): test suites mark
// the start and end of a test case with it. It changes nothing here.
func (s *Service) interop(_ context.Context, call *Call) (any, error) {
	var req message.InteropRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	return &message.InteropResponse{}, nil
}

// logMessage implements Log (KMIP 2.0 section 6.1.28): the client's text
// goes to the server log, attributed to its tenant, quoted and bounded so
// that a client cannot forge or flood log lines.
func (s *Service) logMessage(_ context.Context, call *Call) (any, error) {
	var req message.LogRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	text := req.LogMessage
	if len(text) > 1024 {
		text = text[:1024] + "..."
	}
	s.log.Info().Str("tenant", call.Tenant).Str("client_log", text).Msg("client log message")
	return &message.LogResponse{}, nil
}
