package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// macVerify implements MAC Verify (KMIP 1.4 section 4.34, 2.1 section
// 6.1.31): the MAC is computed as mac does and compared with the client's
// in constant time; a mismatch answers Invalid.
func (s *Service) macVerify(ctx context.Context, call *Call) (any, error) {
	var req message.MACVerifyRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	sum, next, err := s.runMAC(ctx, call, kmip20.OperationMACVerify, id, req.CryptographicParameters, req.Data, req.CorrelationValue, req.InitIndicator, req.FinalIndicator)
	if err != nil {
		return nil, err
	}
	resp := &message.MACVerifyResponse{UniqueIdentifier: id, CorrelationValue: next}
	if next == nil {
		resp.ValidityIndicator = kmip14.ValidityIndicatorInvalid
		if macEqual(sum, req.MACData) {
			resp.ValidityIndicator = kmip14.ValidityIndicatorValid
		}
	}
	return resp, nil
}
