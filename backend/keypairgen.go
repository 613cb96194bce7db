package backend

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"errors"
	"fmt"
)

// KeyPairGenerator is implemented by backends that generate key pairs
// whose private key leaves the root of trust (KMIP Create Key Pair of an
// Extractable pair: the client may Get the private key) inside it: the
// HSM's C_GenerateKeyPair makes the pair from its own random source, the
// adapter reads it once and seals it like any key. A backend without it
// (a cloud KMS) leaves the generation to Go.
type KeyPairGenerator interface {
	// GenerateKeyPair makes an RSA (RSABits, public exponent 65537) or EC
	// (Curve) key pair and returns its private key (*rsa.PrivateKey or
	// *ecdsa.PrivateKey). An error matching ErrNoKeyPairGenerator means
	// the tenant's root of trust does not generate key pairs (a Router
	// whose tenant sits on a cloud KMS): the caller generates it.
	GenerateKeyPair(ctx context.Context, req GenerateKeyPairRequest) (crypto.Signer, error)
}

// GenerateKeyPairRequest asks for an extractable key pair for the tenant
// of Key: RSA when RSABits is set, EC on Curve otherwise.
type GenerateKeyPairRequest struct {
	Key     TenantKey
	RSABits int
	Curve   elliptic.Curve
}

// ErrNoKeyPairGenerator says the tenant's root of trust does not make key
// pairs itself.
var ErrNoKeyPairGenerator = errors.New("the root of trust does not generate key pairs")

// GenerateKeyPair goes to the backend that made req.Key.
func (r *Router) GenerateKeyPair(ctx context.Context, req GenerateKeyPairRequest) (crypto.Signer, error) {
	b, err := r.route(req.Key)
	if err != nil {
		return nil, err
	}
	g, ok := As[KeyPairGenerator](b)
	if !ok {
		return nil, fmt.Errorf("tenant %q: root of trust %q: %w", req.Key.TenantID, req.Key.Type, ErrNoKeyPairGenerator)
	}
	return g.GenerateKeyPair(ctx, req)
}

var _ KeyPairGenerator = (*Router)(nil)
