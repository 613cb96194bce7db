package metrics

import (
	"context"
	"crypto"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// GenerateKeyPair of the test backend everything (keeper_test.go).
func (e *everything) GenerateKeyPair(context.Context, backend.GenerateKeyPairRequest) (crypto.Signer, error) {
	e.calls = append(e.calls, "GenerateKeyPair")
	return nil, nil
}
