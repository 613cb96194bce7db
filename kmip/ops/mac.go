package ops

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// mac implements MAC (KMIP 1.4 section 4.33, 2.1 section 6.1.30) with an
// Active key whose usage mask allows MAC Generate: HMAC when the request's
// or the key's Cryptographic Algorithm is an HMAC (the key's bytes are the
// HMAC key, whatever algorithm it was registered for), CMAC with an AES or
// 3DES key otherwise. Data may come in several parts.
func (s *Service) mac(ctx context.Context, call *Call) (any, error) {
	var req message.MACRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	resp := &message.MACResponse{UniqueIdentifier: id}
	resp.MACData, resp.CorrelationValue, err = s.runMAC(ctx, call, kmip20.OperationMAC, id, req.CryptographicParameters, req.Data, req.CorrelationValue, req.InitIndicator, req.FinalIndicator)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// runMAC computes the MAC of a MAC or MAC Verify request once its last
// part is in; before that it answers the Correlation Value.
func (s *Service) runMAC(ctx context.Context, call *Call, op message.Operation, id string, reqParams *message.CryptographicParameters, data, corr []byte, init, final bool) (sum, next []byte, err error) {
	p, err := s.beginPart(call, op, id, corr, init, final, data)
	if err != nil {
		return nil, nil, err
	}
	use, mask := useProtect, kmip14.CryptographicUsageMaskMACGenerate
	if op == kmip20.OperationMACVerify {
		use, mask = useProcess, kmip14.CryptographicUsageMaskMACVerify
	}
	k, err := s.usableKey(ctx, call, id, use, mask)
	if err != nil {
		return nil, nil, err
	}
	defer k.forget()
	params := k.requestParams(reqParams)
	if p.prior != nil {
		params = p.prior.params
	}
	alg := params.CryptographicAlgorithm
	if _, isHMAC := hmacHashes[alg]; !isHMAC {
		alg = k.algorithm
	}
	key, ok := k.key.(symmetricKey)
	kept, isKept := k.key.(keptKey)
	switch {
	case isKept && kept.family == kmip14.CryptographicAlgorithmAES:
		if _, isHMAC := hmacHashes[alg]; isHMAC || (params.BlockCipherMode != 0 && params.BlockCipherMode != kmip14.BlockCipherModeCMAC) {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "a key kept in the root of trust MACs with CMAC only")
		}
	case isKept:
		if _, isHMAC := keptHMACHash(kept.family); !isHMAC || alg != kept.family {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is kept in the root of trust as a %s key: it MACs with that only", id, kept.family)
		}
	case !ok:
		return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is not a symmetric key: it does not MAC", id)
	}
	compute := func(data []byte) ([]byte, error) {
		if isKept && kept.family != kmip14.CryptographicAlgorithmAES {
			return s.keptMAC(ctx, call, kept, data)
		}
		if isKept {
			var sum []byte
			err := s.withKeptBlock(ctx, call, kept, func(b cipher.Block) error {
				sum = cmacSum(b, data)
				return nil
			})
			return sum, err
		}
		if h, ok := newHMAC(alg, key); ok {
			h.Write(data)
			return h.Sum(nil), nil
		}
		if !blockAlgorithm(alg) || (params.BlockCipherMode != 0 && params.BlockCipherMode != kmip14.BlockCipherModeCMAC) {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "no MAC algorithm: name an HMAC algorithm, or use an AES or 3DES key for CMAC")
		}
		b, err := newBlock(alg, key)
		if err != nil {
			return nil, err
		}
		return cmacSum(b, data), nil
	}
	if use == useProtect {
		if err := s.spendUsage(ctx, call, k, len(data)); err != nil {
			return nil, nil, err
		}
	}
	if !p.final {
		if _, err := compute(nil); err != nil { // refuse a bad algorithm at once
			return nil, nil, err
		}
		next, err = s.keep(call, op, id, p, params, nil, nil, 0)
		return nil, next, err
	}
	sum, err = compute(p.data)
	return sum, nil, err
}

// macEqual compares MACs in constant time.
func macEqual(a, b []byte) bool { return hmac.Equal(a, b) }
