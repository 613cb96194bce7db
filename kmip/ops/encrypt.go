package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// encrypt implements Encrypt (KMIP 1.4 section 4.29, 2.1 section 6.1.18)
// with an Active key whose usage mask allows Encrypt: AES, 3DES and DES in
// ECB, CBC, CTR, GCM and the AES key wrap modes, RSA with OAEP or PKCS#1
// v1.5. The Cryptographic Parameters of the request override the key's,
// field by field. An IV the client does not give is generated and
// returned. Symmetric modes other than key wrap run in several parts.
func (s *Service) encrypt(ctx context.Context, call *Call) (any, error) {
	var req message.EncryptRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	res, err := s.runCipher(ctx, call, id, cipherRequest{
		op: kmip20.OperationEncrypt, encrypt: true, params: req.CryptographicParameters,
		data: req.Data, iv: req.IVCounterNonce, aad: req.AuthenticatedEncryptionAdditionalData,
		corr: req.CorrelationValue, init: req.InitIndicator, final: req.FinalIndicator,
	})
	if err != nil {
		return nil, err
	}
	return &message.EncryptResponse{
		UniqueIdentifier: id, Data: res.data, IVCounterNonce: res.iv,
		CorrelationValue: res.corr, AuthenticatedEncryptionTag: res.tag,
	}, nil
}
