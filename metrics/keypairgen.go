package metrics

import (
	"context"
	"crypto"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// GenerateKeyPair of measuredBackend, offered only when the wrapped
// backend generates key pairs (the HSM).
func (b *measuredBackend) GenerateKeyPair(ctx context.Context, req backend.GenerateKeyPairRequest) (out crypto.Signer, err error) {
	defer func(start time.Time) { b.observe("GenerateKeyPair", start, err) }(time.Now())
	return b.Backend.(backend.KeyPairGenerator).GenerateKeyPair(ctx, req)
}

var _ backend.KeyPairGenerator = (*measuredBackend)(nil)
