package metrics

import (
	"context"
	"crypto"
	"crypto/cipher"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

type plainBackend struct{ backend.Backend }

type keepingBackend struct {
	plainBackend
	calls []string
}

func (k *keepingBackend) KeepSecretKey(context.Context, backend.KeepSecretKeyRequest) ([]byte, error) {
	k.calls = append(k.calls, "KeepSecretKey")
	return []byte{1}, nil
}

func (k *keepingBackend) KeepKeyPair(context.Context, backend.KeepKeyPairRequest) (crypto.PublicKey, []byte, error) {
	k.calls = append(k.calls, "KeepKeyPair")
	return nil, nil, errors.New("down")
}

func (k *keepingBackend) WithKeptBlock(_ context.Context, _ backend.KeptKeyRequest, fn func(cipher.Block) error) error {
	k.calls = append(k.calls, "WithKeptBlock")
	return fn(nil)
}

func (k *keepingBackend) KeptSign(context.Context, backend.KeptSignRequest) ([]byte, error) {
	k.calls = append(k.calls, "KeptSign")
	return []byte{2}, nil
}

func (k *keepingBackend) KeptDecrypt(context.Context, backend.KeptDecryptRequest) ([]byte, error) {
	k.calls = append(k.calls, "KeptDecrypt")
	return nil, backend.ErrDecrypt
}

func (k *keepingBackend) KeptMAC(context.Context, backend.KeptMACRequest) ([]byte, error) {
	k.calls = append(k.calls, "KeptMAC")
	return []byte{3}, nil
}

// TestBackendForwardsKeyKeeper: the measured backend offers KeyKeeper
// exactly when the backend it wraps does, and forwards every call.
func TestBackendForwardsKeyKeeper(t *testing.T) {
	m := New("test")
	_, ok := m.Backend(plainBackend{}).(backend.KeyKeeper)
	assert.False(t, ok, "a backend that keeps no keys does not seem to")

	inner := &keepingBackend{}
	k, ok := m.Backend(inner).(backend.KeyKeeper)
	if !assert.True(t, ok) {
		return
	}
	ctx := context.Background()
	out, err := k.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{})
	assert.NoError(t, err)
	assert.Equal(t, []byte{1}, out)
	_, _, err = k.KeepKeyPair(ctx, backend.KeepKeyPairRequest{})
	assert.EqualError(t, err, "down")
	ran := false
	assert.NoError(t, k.WithKeptBlock(ctx, backend.KeptKeyRequest{}, func(cipher.Block) error { ran = true; return nil }))
	assert.True(t, ran)
	sig, err := k.KeptSign(ctx, backend.KeptSignRequest{})
	assert.NoError(t, err)
	assert.Equal(t, []byte{2}, sig)
	_, err = k.KeptDecrypt(ctx, backend.KeptDecryptRequest{})
	assert.ErrorIs(t, err, backend.ErrDecrypt)
	mac, err := k.KeptMAC(ctx, backend.KeptMACRequest{})
	assert.NoError(t, err)
	assert.Equal(t, []byte{3}, mac)
	assert.Equal(t, []string{"KeepSecretKey", "KeepKeyPair", "WithKeptBlock", "KeptSign", "KeptDecrypt", "KeptMAC"}, inner.calls)
}
