package backend_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// fake is a backend that tags what it seals with its name, so a test sees
// which backend served a call.
type fake struct {
	name     string
	closed   int
	onRewrap func(ctx context.Context, old, updated backend.TenantKey)
}

func (f *fake) NewTenantKey(_ context.Context, tenantID string) (backend.TenantKey, error) {
	return backend.TenantKey{TenantID: tenantID, Blob: []byte(f.name + ":" + tenantID)}, nil
}

func (f *fake) Seal(_ context.Context, req backend.SealRequest) ([]byte, error) {
	if !bytes.HasPrefix(req.Key.Blob, []byte(f.name+":")) {
		return nil, backend.ErrIntegrity
	}
	return append([]byte(f.name+"|"), req.Plaintext...), nil
}

func (f *fake) Open(_ context.Context, req backend.OpenRequest) ([]byte, error) {
	p, ok := bytes.CutPrefix(req.Ciphertext, []byte(f.name+"|"))
	if !ok || !bytes.HasPrefix(req.Key.Blob, []byte(f.name+":")) {
		return nil, backend.ErrIntegrity
	}
	return p, nil
}

func (f *fake) Close() error { f.closed++; return nil }

func (f *fake) Check(context.Context) []backend.CheckResult {
	return []backend.CheckResult{{Name: "self", OK: true}}
}

func (f *fake) OnRewrap(fn func(ctx context.Context, old, updated backend.TenantKey)) {
	f.onRewrap = fn
}

func TestRouter(t *testing.T) {
	ctx := context.Background()
	hsm, kms := &fake{name: "pkcs11"}, &fake{name: "hpcs"}
	r, err := backend.NewRouter(map[string]backend.Backend{"pkcs11": hsm, "hpcs": kms}, "pkcs11")
	require.NoError(t, err)
	r.Choose = func(_ context.Context, tenantID string) string {
		if tenantID == "cloud" {
			return "hpcs"
		}
		return ""
	}

	onHSM, err := r.NewTenantKey(ctx, "onprem")
	require.NoError(t, err)
	assert.Equal(t, "pkcs11", onHSM.Type)
	onKMS, err := r.NewTenantKey(ctx, "cloud")
	require.NoError(t, err)
	assert.Equal(t, "hpcs", onKMS.Type)

	tests := []struct {
		name   string
		key    backend.TenantKey
		prefix string
	}{
		{"HSM tenant", onHSM, "pkcs11|"},
		{"KMS tenant", onKMS, "hpcs|"},
		{"key without a type goes to the default", backend.TenantKey{TenantID: "onprem", Blob: onHSM.Blob}, "pkcs11|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := r.Seal(ctx, backend.SealRequest{Key: tt.key, Plaintext: []byte("m")})
			require.NoError(t, err)
			assert.True(t, bytes.HasPrefix(ct, []byte(tt.prefix)), "%q", ct)
			pt, err := r.Open(ctx, backend.OpenRequest{Key: tt.key, Ciphertext: ct})
			require.NoError(t, err)
			assert.Equal(t, []byte("m"), pt)
		})
	}

	_, err = r.Seal(ctx, backend.SealRequest{Key: backend.TenantKey{TenantID: "x", Type: "vault"}})
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.Contains(t, err.Error(), `"vault"`)

	checks := r.Check(ctx)
	require.Len(t, checks, 2)
	assert.Equal(t, "hpcs: self", checks[0].Name)
	assert.Equal(t, "pkcs11: self", checks[1].Name)

	var got []backend.TenantKey
	r.OnRewrap(func(_ context.Context, old, updated backend.TenantKey) { got = append(got, old, updated) })
	require.NotNil(t, kms.onRewrap)
	kms.onRewrap(ctx, backend.TenantKey{TenantID: "cloud"}, backend.TenantKey{TenantID: "cloud", Blob: []byte("new")})
	require.Len(t, got, 2)
	assert.Equal(t, "hpcs", got[1].Type, "the router records the type in reported keys")

	rnd, err := r.Random(ctx, 16)
	require.NoError(t, err)
	assert.Len(t, rnd, 16)

	require.NoError(t, r.Close())
	assert.Equal(t, 1, hsm.closed)
	assert.Equal(t, 1, kms.closed)
}

func TestNewRouterNeedsDefault(t *testing.T) {
	_, err := backend.NewRouter(map[string]backend.Backend{"hpcs": &fake{name: "hpcs"}}, "pkcs11")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backend.type")
}
