package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// signatureVerify implements Signature Verify (KMIP 1.4 section 4.32, 2.1
// section 6.1.48) with a public (or private) key whose usage mask allows
// Verify, Active, Deactivated or Compromised. A signature that does not
// verify is a successful operation answering Invalid.
func (s *Service) signatureVerify(ctx context.Context, call *Call) (any, error) {
	var req message.SignatureVerifyRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	p, err := s.beginPart(call, kmip20.OperationSignatureVerify, id, req.CorrelationValue, req.InitIndicator, req.FinalIndicator, req.Data)
	if err != nil {
		return nil, err
	}
	k, err := s.usableKey(ctx, call, id, useProcess, kmip14.CryptographicUsageMaskVerify)
	if err != nil {
		return nil, err
	}
	if _, kept := k.key.(keptKey); kept {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is a private key kept in the root of trust: verify with its public key", id)
	}
	params := k.requestParams(req.CryptographicParameters)
	if p.prior != nil {
		params = p.prior.params
	}
	sc, err := schemeFor(k.key, params)
	if err != nil {
		return nil, err
	}
	resp := &message.SignatureVerifyResponse{UniqueIdentifier: id}
	if !p.final {
		resp.CorrelationValue, err = s.keep(call, kmip20.OperationSignatureVerify, id, p, params, nil, nil, 0)
		return resp, err
	}
	digest, err := sc.digestOf(p.data, req.DigestedData)
	if err != nil {
		return nil, err
	}
	resp.ValidityIndicator = kmip14.ValidityIndicatorInvalid
	if sc.verify(k.key, digest, req.SignatureData) {
		resp.ValidityIndicator = kmip14.ValidityIndicatorValid
	}
	return resp, nil
}
