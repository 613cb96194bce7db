package metrics

import (
	"context"
	"crypto"
	"crypto/cipher"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// The kept-key calls of measuredBackend (backend.KeyKeeper and
// backend.KeepChecker), offered only when the wrapped backend keeps keys.

func (b *measuredBackend) keeper() backend.KeyKeeper { return b.Backend.(backend.KeyKeeper) }

func (b *measuredBackend) KeepSecretKey(ctx context.Context, req backend.KeepSecretKeyRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeepSecretKey", start, err) }(time.Now())
	return b.keeper().KeepSecretKey(ctx, req)
}

func (b *measuredBackend) KeepKeyPair(ctx context.Context, req backend.KeepKeyPairRequest) (pub crypto.PublicKey, out []byte, err error) {
	defer func(start time.Time) { b.observe("KeepKeyPair", start, err) }(time.Now())
	return b.keeper().KeepKeyPair(ctx, req)
}

func (b *measuredBackend) WithKeptBlock(ctx context.Context, req backend.KeptKeyRequest, fn func(cipher.Block) error) (err error) {
	defer func(start time.Time) { b.observe("WithKeptBlock", start, err) }(time.Now())
	return b.keeper().WithKeptBlock(ctx, req, fn)
}

func (b *measuredBackend) KeptSign(ctx context.Context, req backend.KeptSignRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeptSign", start, err) }(time.Now())
	return b.keeper().KeptSign(ctx, req)
}

func (b *measuredBackend) KeptDecrypt(ctx context.Context, req backend.KeptDecryptRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeptDecrypt", start, err) }(time.Now())
	return b.keeper().KeptDecrypt(ctx, req)
}

func (b *measuredBackend) KeptMAC(ctx context.Context, req backend.KeptMACRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeptMAC", start, err) }(time.Now())
	return b.keeper().KeptMAC(ctx, req)
}

// CanKeep forwards the wrapped backend's answer (a Router keeps keys for
// some tenants only).
func (b *measuredBackend) CanKeep(tk backend.TenantKey) bool {
	return b.Backend.(backend.KeepChecker).CanKeep(tk)
}

var (
	_ backend.KeyKeeper   = (*measuredBackend)(nil)
	_ backend.KeepChecker = (*measuredBackend)(nil)
)
