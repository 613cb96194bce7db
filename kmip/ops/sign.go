package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// sign implements Sign (KMIP 1.4 section 4.31, 2.1 section 6.1.47) with an
// Active private key whose usage mask allows Sign: RSA (PSS or PKCS#1
// v1.5) and ECDSA; see schemeFor for the parameters. Data may come in
// several parts; Digested Data is a digest the client made.
func (s *Service) sign(ctx context.Context, call *Call) (any, error) {
	var req message.SignRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	p, err := s.beginPart(call, kmip20.OperationSign, id, req.CorrelationValue, req.InitIndicator, req.FinalIndicator, req.Data)
	if err != nil {
		return nil, err
	}
	k, err := s.usableKey(ctx, call, id, useProtect, kmip14.CryptographicUsageMaskSign)
	if err != nil {
		return nil, err
	}
	params := k.requestParams(req.CryptographicParameters)
	if p.prior != nil {
		params = p.prior.params
	}
	sc, err := schemeFor(k.key, params)
	if err != nil {
		return nil, err
	}
	if err := s.spendUsage(ctx, call, k, len(req.Data)+len(req.DigestedData)); err != nil {
		return nil, err
	}
	resp := &message.SignResponse{UniqueIdentifier: id}
	if !p.final {
		if req.DigestedData != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Digested Data is single-part")
		}
		resp.CorrelationValue, err = s.keep(call, kmip20.OperationSign, id, p, params, nil, nil, 0)
		return resp, err
	}
	digest, err := sc.digestOf(p.data, req.DigestedData)
	if err != nil {
		return nil, err
	}
	if kk, kept := k.key.(keptKey); kept {
		resp.SignatureData, err = s.keptSign(ctx, call, kk, kk.family, sc, digest)
	} else {
		resp.SignatureData, err = sc.sign(k.key, digest)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}
