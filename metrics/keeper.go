package metrics

import (
	"context"
	"crypto"
	"crypto/cipher"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// measuredKeeper is measuredBackend for a backend that keeps keys
// (backend.KeyKeeper): only such a backend's wrapper offers the interface,
// so that the operations still find out by a type assertion whether keys
// can be kept.
type measuredKeeper struct {
	measuredBackend
	keeper backend.KeyKeeper
}

func (b *measuredKeeper) KeepSecretKey(ctx context.Context, req backend.KeepSecretKeyRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeepSecretKey", start, err) }(time.Now())
	return b.keeper.KeepSecretKey(ctx, req)
}

func (b *measuredKeeper) KeepKeyPair(ctx context.Context, req backend.KeepKeyPairRequest) (pub crypto.PublicKey, out []byte, err error) {
	defer func(start time.Time) { b.observe("KeepKeyPair", start, err) }(time.Now())
	return b.keeper.KeepKeyPair(ctx, req)
}

func (b *measuredKeeper) WithKeptBlock(ctx context.Context, req backend.KeptKeyRequest, fn func(cipher.Block) error) (err error) {
	defer func(start time.Time) { b.observe("WithKeptBlock", start, err) }(time.Now())
	return b.keeper.WithKeptBlock(ctx, req, fn)
}

func (b *measuredKeeper) KeptSign(ctx context.Context, req backend.KeptSignRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeptSign", start, err) }(time.Now())
	return b.keeper.KeptSign(ctx, req)
}

func (b *measuredKeeper) KeptDecrypt(ctx context.Context, req backend.KeptDecryptRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeptDecrypt", start, err) }(time.Now())
	return b.keeper.KeptDecrypt(ctx, req)
}

func (b *measuredKeeper) KeptMAC(ctx context.Context, req backend.KeptMACRequest) (out []byte, err error) {
	defer func(start time.Time) { b.observe("KeptMAC", start, err) }(time.Now())
	return b.keeper.KeptMAC(ctx, req)
}

var _ backend.KeyKeeper = (*measuredKeeper)(nil)

// CanKeep forwards the wrapped backend's answer (a Router keeps keys for
// some tenants only); a backend without KeepChecker keeps for every tenant.
func (b *measuredKeeper) CanKeep(tk backend.TenantKey) bool {
	if c, ok := b.keeper.(backend.KeepChecker); ok {
		return c.CanKeep(tk)
	}
	return true
}

var _ backend.KeepChecker = (*measuredKeeper)(nil)
