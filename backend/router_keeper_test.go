package backend_test

import (
	"context"
	"crypto"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// keepingFake is a fake that also keeps keys, answering with its name.
type keepingFake struct{ fake }

func (k *keepingFake) KeepSecretKey(_ context.Context, req backend.KeepSecretKeyRequest) ([]byte, error) {
	return []byte(k.name + " kept " + req.Key.TenantID), nil
}

func (k *keepingFake) KeepKeyPair(context.Context, backend.KeepKeyPairRequest) (crypto.PublicKey, []byte, error) {
	return nil, []byte(k.name), nil
}

func (k *keepingFake) WithKeptBlock(context.Context, backend.KeptKeyRequest, func(cipher.Block) error) error {
	return nil
}

func (k *keepingFake) KeptSign(context.Context, backend.KeptSignRequest) ([]byte, error) {
	return []byte(k.name), nil
}

func (k *keepingFake) KeptDecrypt(_ context.Context, req backend.KeptDecryptRequest) ([]byte, error) {
	return []byte(k.name + " decrypted " + string(req.Ciphertext)), nil
}

func (k *keepingFake) KeptMAC(_ context.Context, req backend.KeptMACRequest) ([]byte, error) {
	return []byte(k.name + " MACed " + string(req.Data)), nil
}

// A Router keeps keys only for tenants whose root of trust can: the HSM
// tenant's key is kept by the HSM, the KMS tenant is told no (so the
// operations seal its key as usual) and a direct call is refused.
func TestRouterKeepsOnlyWhereTheRootCan(t *testing.T) {
	ctx := context.Background()
	hsm, kms := &keepingFake{fake{name: "pkcs11"}}, &fake{name: "hpcs"}
	r, err := backend.NewRouter(map[string]backend.Backend{"pkcs11": hsm, "hpcs": kms}, "pkcs11")
	require.NoError(t, err)
	onHSM := backend.TenantKey{TenantID: "a", Type: "pkcs11"}
	onKMS := backend.TenantKey{TenantID: "b", Type: "hpcs"}
	legacy := backend.TenantKey{TenantID: "c"} // stored before keys named their type: the default

	assert.True(t, r.CanKeep(onHSM))
	assert.True(t, r.CanKeep(legacy))
	assert.False(t, r.CanKeep(onKMS))
	assert.False(t, r.CanKeep(backend.TenantKey{TenantID: "d", Type: "gone"}))

	out, err := r.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: onHSM, Bits: 256})
	require.NoError(t, err)
	assert.Equal(t, "pkcs11 kept a", string(out))
	sig, err := r.KeptSign(ctx, backend.KeptSignRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: legacy}})
	require.NoError(t, err)
	assert.Equal(t, "pkcs11", string(sig))

	plain, err := r.KeptDecrypt(ctx, backend.KeptDecryptRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: onHSM}, Ciphertext: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, "pkcs11 decrypted x", string(plain))
	mac, err := r.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: onHSM}, Data: []byte("y")})
	require.NoError(t, err)
	assert.Equal(t, "pkcs11 MACed y", string(mac))
	_, err = r.KeptDecrypt(ctx, backend.KeptDecryptRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: onKMS}})
	assert.ErrorIs(t, err, backend.ErrKeyMissing)
	_, err = r.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: onKMS}})
	assert.ErrorIs(t, err, backend.ErrKeyMissing)

	_, err = r.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: onKMS, Bits: 256})
	assert.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.ErrorContains(t, err, `"hpcs" does not keep keys`)
}
