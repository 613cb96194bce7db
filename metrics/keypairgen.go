package metrics

import (
	"context"
	"crypto"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// measuredKeyPairGenerator is the measured backend.KeyPairGenerator,
// which measuredBackend.As hands out when the wrapped backend generates
// key pairs (the HSM).
type measuredKeyPairGenerator struct {
	m  *Metrics
	in backend.KeyPairGenerator
}

func (g measuredKeyPairGenerator) GenerateKeyPair(ctx context.Context, req backend.GenerateKeyPairRequest) (out crypto.Signer, err error) {
	defer func(start time.Time) { g.m.observeBackend("GenerateKeyPair", start, err) }(time.Now())
	return g.in.GenerateKeyPair(ctx, req)
}

var _ backend.KeyPairGenerator = measuredKeyPairGenerator{}
