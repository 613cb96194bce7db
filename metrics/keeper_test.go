package metrics

import (
	"context"
	"crypto"
	"crypto/cipher"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	_, ok := backend.As[backend.KeyKeeper](m.Backend(plainBackend{}))
	assert.False(t, ok, "a backend that keeps no keys does not seem to")

	inner := &keepingBackend{}
	k, ok := backend.As[backend.KeyKeeper](m.Backend(inner))
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

// everything offers every optional interface of package backend; each
// call is logged.
type everything struct {
	keepingBackend
}

func (e *everything) Random(_ context.Context, n int) ([]byte, error) {
	e.calls = append(e.calls, "Random")
	return make([]byte, n), nil
}

func (e *everything) Check(context.Context) []backend.CheckResult {
	e.calls = append(e.calls, "Check")
	return []backend.CheckResult{{Name: "MKEK", OK: true}}
}

func (e *everything) OnRewrap(func(ctx context.Context, old, updated backend.TenantKey)) {
	e.calls = append(e.calls, "OnRewrap")
}

func (e *everything) Ready(context.Context) error {
	e.calls = append(e.calls, "Ready")
	return nil
}

func (e *everything) CanKeep(backend.TenantKey) bool {
	e.calls = append(e.calls, "CanKeep")
	return false
}

// TestBackendForwardsOptionalCalls: the optional calls that are not kept
// keys reach the wrapped backend, and Random is measured.
func TestBackendForwardsOptionalCalls(t *testing.T) {
	m := New("test")
	full := &everything{}
	be := m.Backend(full)
	ctx := context.Background()
	rs, ok := backend.As[backend.RandomSource](be)
	require.True(t, ok)
	out, err := rs.Random(ctx, 4)
	assert.NoError(t, err)
	assert.Len(t, out, 4)
	checker, _ := backend.As[backend.Checker](be)
	assert.Equal(t, []backend.CheckResult{{Name: "MKEK", OK: true}}, checker.Check(ctx))
	notifier, _ := backend.As[backend.RewrapNotifier](be)
	notifier.OnRewrap(func(context.Context, backend.TenantKey, backend.TenantKey) {})
	keepChecker, _ := backend.As[backend.KeepChecker](be)
	assert.False(t, keepChecker.CanKeep(backend.TenantKey{}))
	prober, _ := backend.As[backend.ReadyProber](be)
	assert.NoError(t, prober.Ready(ctx))
	assert.Equal(t, []string{"Random", "Check", "OnRewrap", "CanKeep", "Ready"}, full.calls)
	families, err := m.Registry().Gather()
	assert.NoError(t, err)
	measured := false
	for _, f := range families {
		if f.GetName() == "kmip_adapter_root_of_trust_call_duration_seconds" {
			for _, s := range f.GetMetric() {
				measured = measured || (s.GetLabel()[0].GetValue() == "Random" && s.GetHistogram().GetSampleCount() == 1)
			}
		}
	}
	assert.True(t, measured, "Random is measured")
}
