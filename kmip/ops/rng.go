package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// maxRandomBytes bounds what one RNG Retrieve returns.
const maxRandomBytes = 1 << 20

// rngRetrieve implements RNG Retrieve (KMIP 1.4 section 4.35, 2.1 section
// 6.1.45): random bytes from the root of trust's RNG (the HSM's DRBG).
func (s *Service) rngRetrieve(ctx context.Context, call *Call) (any, error) {
	var req message.RNGRetrieveRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if req.DataLength <= 0 || req.DataLength > maxRandomBytes {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Data Length must be 1 to %d bytes", maxRandomBytes)
	}
	b, err := s.random(ctx, int(req.DataLength))
	if err != nil {
		return nil, err
	}
	return &message.RNGRetrieveResponse{Data: b}, nil
}

// rngSeed implements RNG Seed (KMIP 1.4 section 4.36, 2.1 section
// 6.1.46). The server's random numbers come from the root of trust, which
// seeds itself and takes no seed from clients: it answers that it used
// none of the data (Data Length 0), as the specification allows.
func (s *Service) rngSeed(_ context.Context, call *Call) (any, error) {
	var req message.RNGSeedRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if len(req.Data) == 0 {
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "RNG Seed needs Data")
	}
	return &message.RNGSeedResponse{DataLength: 0}, nil
}
