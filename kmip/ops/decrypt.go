package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// decrypt implements Decrypt (KMIP 1.4 section 4.30, 2.1 section 6.1.14)
// with a key whose usage mask allows Decrypt, Active or (to read what it
// protected before) Deactivated or Compromised. See encrypt for the
// algorithms. A wrong GCM tag, KW integrity value or padding answers
// Cryptographic Failure.
func (s *Service) decrypt(ctx context.Context, call *Call) (any, error) {
	var req message.DecryptRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	res, err := s.runCipher(ctx, call, id, cipherRequest{
		op: kmip20.OperationDecrypt, params: req.CryptographicParameters,
		data: req.Data, iv: req.IVCounterNonce, aad: req.AuthenticatedEncryptionAdditionalData,
		tag:  req.AuthenticatedEncryptionTag,
		corr: req.CorrelationValue, init: req.InitIndicator, final: req.FinalIndicator,
	})
	if err != nil {
		return nil, err
	}
	return &message.DecryptResponse{UniqueIdentifier: id, Data: res.data, CorrelationValue: res.corr}, nil
}
