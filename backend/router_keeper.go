package backend

import (
	"context"
	"crypto"
	"crypto/cipher"
	"fmt"
)

// KeepChecker is implemented by backends that keep keys for some tenants
// only: a Router whose tenants sit on roots of trust of which some keep
// keys (the HSM) and some do not (a cloud KMS). The operations ask it
// before keeping a key; a key the tenant's root cannot keep is sealed
// like any other.
type KeepChecker interface {
	CanKeep(tk TenantKey) bool
}

// CanKeep reports whether the backend of tk keeps keys.
func (r *Router) CanKeep(tk TenantKey) bool {
	b, err := r.route(tk)
	if err != nil {
		return false
	}
	_, ok := As[KeyKeeper](b)
	return ok
}

// keeper is the KeyKeeper of the backend that made tk.
func (r *Router) keeper(tk TenantKey) (KeyKeeper, error) {
	b, err := r.route(tk)
	if err != nil {
		return nil, err
	}
	k, ok := As[KeyKeeper](b)
	if !ok {
		return nil, fmt.Errorf("tenant %q: root of trust %q does not keep keys: %w", tk.TenantID, tk.Type, ErrKeyMissing)
	}
	return k, nil
}

// KeepSecretKey goes to the backend that made req.Key.
func (r *Router) KeepSecretKey(ctx context.Context, req KeepSecretKeyRequest) ([]byte, error) {
	k, err := r.keeper(req.Key)
	if err != nil {
		return nil, err
	}
	return k.KeepSecretKey(ctx, req)
}

// KeepKeyPair goes to the backend that made req.Key.
func (r *Router) KeepKeyPair(ctx context.Context, req KeepKeyPairRequest) (crypto.PublicKey, []byte, error) {
	k, err := r.keeper(req.Key)
	if err != nil {
		return nil, nil, err
	}
	return k.KeepKeyPair(ctx, req)
}

// WithKeptBlock goes to the backend that made req.Key.
func (r *Router) WithKeptBlock(ctx context.Context, req KeptKeyRequest, fn func(cipher.Block) error) error {
	k, err := r.keeper(req.Key)
	if err != nil {
		return err
	}
	return k.WithKeptBlock(ctx, req, fn)
}

// KeptSign goes to the backend that made req.Key.
func (r *Router) KeptSign(ctx context.Context, req KeptSignRequest) ([]byte, error) {
	k, err := r.keeper(req.Key)
	if err != nil {
		return nil, err
	}
	return k.KeptSign(ctx, req)
}

// KeptDecrypt goes to the backend that made req.Key.
func (r *Router) KeptDecrypt(ctx context.Context, req KeptDecryptRequest) ([]byte, error) {
	k, err := r.keeper(req.Key)
	if err != nil {
		return nil, err
	}
	return k.KeptDecrypt(ctx, req)
}

// KeptMAC goes to the backend that made req.Key.
func (r *Router) KeptMAC(ctx context.Context, req KeptMACRequest) ([]byte, error) {
	k, err := r.keeper(req.Key)
	if err != nil {
		return nil, err
	}
	return k.KeptMAC(ctx, req)
}

var (
	_ KeyKeeper   = (*Router)(nil)
	_ KeepChecker = (*Router)(nil)
)
