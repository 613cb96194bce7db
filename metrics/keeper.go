package metrics

import (
	"context"
	"crypto"
	"crypto/cipher"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// measuredKeeper is the measured backend.KeyKeeper, which
// measuredBackend.As hands out when the wrapped backend keeps keys.
type measuredKeeper struct {
	m  *Metrics
	in backend.KeyKeeper
}

func (k measuredKeeper) KeepSecretKey(ctx context.Context, req backend.KeepSecretKeyRequest) (out []byte, err error) {
	defer func(start time.Time) { k.m.observeBackend("KeepSecretKey", start, err) }(time.Now())
	return k.in.KeepSecretKey(ctx, req)
}

func (k measuredKeeper) KeepKeyPair(ctx context.Context, req backend.KeepKeyPairRequest) (pub crypto.PublicKey, out []byte, err error) {
	defer func(start time.Time) { k.m.observeBackend("KeepKeyPair", start, err) }(time.Now())
	return k.in.KeepKeyPair(ctx, req)
}

func (k measuredKeeper) WithKeptBlock(ctx context.Context, req backend.KeptKeyRequest, fn func(cipher.Block) error) (err error) {
	defer func(start time.Time) { k.m.observeBackend("WithKeptBlock", start, err) }(time.Now())
	return k.in.WithKeptBlock(ctx, req, fn)
}

func (k measuredKeeper) KeptSign(ctx context.Context, req backend.KeptSignRequest) (out []byte, err error) {
	defer func(start time.Time) { k.m.observeBackend("KeptSign", start, err) }(time.Now())
	return k.in.KeptSign(ctx, req)
}

func (k measuredKeeper) KeptDecrypt(ctx context.Context, req backend.KeptDecryptRequest) (out []byte, err error) {
	defer func(start time.Time) { k.m.observeBackend("KeptDecrypt", start, err) }(time.Now())
	return k.in.KeptDecrypt(ctx, req)
}

func (k measuredKeeper) KeptMAC(ctx context.Context, req backend.KeptMACRequest) (out []byte, err error) {
	defer func(start time.Time) { k.m.observeBackend("KeptMAC", start, err) }(time.Now())
	return k.in.KeptMAC(ctx, req)
}

var _ backend.KeyKeeper = measuredKeeper{}
