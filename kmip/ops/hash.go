package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// hash implements Hash (KMIP 1.4 section 4.37, 2.1 section 6.1.21): the
// digest of the data with the Hashing Algorithm of the Cryptographic
// Parameters (required); Data may come in several parts.
func (s *Service) hash(_ context.Context, call *Call) (any, error) {
	var req message.HashRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	p, err := s.beginPart(call, kmip20.OperationHash, "", req.CorrelationValue, req.InitIndicator, req.FinalIndicator, req.Data)
	if err != nil {
		return nil, err
	}
	var params message.CryptographicParameters
	switch {
	case p.prior != nil:
		params = p.prior.params
	case req.CryptographicParameters != nil:
		params = *req.CryptographicParameters
	}
	if params.HashingAlgorithm == 0 {
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Hash needs Cryptographic Parameters with a Hashing Algorithm")
	}
	h, err := hashOf(params.HashingAlgorithm, 0)
	if err != nil {
		return nil, err
	}
	if !p.final {
		corr, err := s.keep(call, kmip20.OperationHash, "", p, params, nil, nil, 0)
		if err != nil {
			return nil, err
		}
		return &message.HashResponse{CorrelationValue: corr}, nil
	}
	d := h.New()
	d.Write(p.data)
	return &message.HashResponse{Data: d.Sum(nil)}, nil
}
