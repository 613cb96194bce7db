package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// tkekPublic returns the public key of TKEK label as TransportKeys lists it.
func tkekPublic(t *testing.T, b *Backend, label string) *rsa.PublicKey {
	t.Helper()
	keys, err := b.TransportKeys(context.Background())
	require.NoError(t, err)
	for _, k := range keys {
		if k.Label == label {
			pub, ok := k.Public.(*rsa.PublicKey)
			require.True(t, ok, "TKEK %s has an RSA public key", label)
			assert.Equal(t, crypto.SHA1, k.OAEPHash, "SoftHSM2 profile: OAEP with SHA-1")
			return pub
		}
	}
	t.Fatalf("no transport key %s in %v", label, keys)
	return nil
}

// TestTransportKeysListed: every provisioned TKEK's public key is listed
// (2048 bits, distinct), then the IKEY without a public part.
func TestTransportKeysListed(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	keys, err := b.TransportKeys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, testCfg.TKEKCount+1)
	seen := map[string]bool{}
	for i, k := range keys[:testCfg.TKEKCount] {
		assert.Equal(t, tkekLabel(testCfg.TKEKPrefix, i+1), k.Label)
		pub := k.Public.(*rsa.PublicKey)
		assert.Equal(t, 2048, pub.N.BitLen())
		seen[pub.N.String()] = true
	}
	assert.Len(t, seen, testCfg.TKEKCount, "each TKEK is its own pair")
	assert.Equal(t, testCfg.IKEYLabel, keys[testCfg.TKEKCount].Label)
	assert.Nil(t, keys[testCfg.TKEKCount].Public)
}

// TestImportKeptThroughTKEK: an AES key encrypted by the client under a
// TKEK public key is unwrapped in the HSM and comes back in kept form; the
// kept key encrypts exactly as the client's key does (Go's AES decides),
// and the decrypting path gives the client's key back.
func TestImportKeptThroughTKEK(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-import")
	require.NoError(t, err)
	label := tkekLabel(testCfg.TKEKPrefix, 2)
	pub := tkekPublic(t, b, label)
	for _, bits := range []int{128, 192, 256} {
		key := make([]byte, bits/8)
		_, _ = rand.Read(key)
		enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
		require.NoError(t, err)
		req := backend.TransportImportRequest{Key: tk, Label: label, Mechanism: backend.TransportRSAOAEP, Encrypted: enc}

		wrapped, gotBits, err := b.ImportKept(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, bits, gotBits)
		assert.False(t, bytes.Contains(wrapped, key), "the kept form does not hold the key")
		want, got := make([]byte, 16), make([]byte, 16)
		blk, _ := aes.NewCipher(key)
		blk.Encrypt(want, []byte("0123456789abcdef"))
		require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: wrapped}, func(c cipher.Block) error {
			c.Encrypt(got, []byte("0123456789abcdef"))
			return nil
		}))
		assert.Equal(t, want, got, "%d bits: the kept key is the client's key", bits)

		plain, err := b.DecryptTransport(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, key, plain)
	}
}

// TestTransportImportRefusals: wrong inputs are the client's errors, a
// refused mechanism is the partition's, and nothing is served.
func TestTransportImportRefusals(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-import-bad")
	require.NoError(t, err)
	label := tkekLabel(testCfg.TKEKPrefix, 1)
	pub := tkekPublic(t, b, label)
	key := bytes.Repeat([]byte{7}, 32)
	enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	require.NoError(t, err)
	otherPub := tkekPublic(t, b, tkekLabel(testCfg.TKEKPrefix, 3))
	encOther, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, otherPub, key, nil)
	require.NoError(t, err)
	flipped := bytes.Clone(enc)
	flipped[len(flipped)/2] ^= 1
	for _, tt := range []struct {
		name string
		req  backend.TransportImportRequest
	}{
		{"unknown TKEK", backend.TransportImportRequest{Label: "NOPE-01", Mechanism: backend.TransportRSAOAEP, Encrypted: enc}},
		{"encrypted under another TKEK", backend.TransportImportRequest{Label: label, Mechanism: backend.TransportRSAOAEP, Encrypted: encOther}},
		{"flipped byte", backend.TransportImportRequest{Label: label, Mechanism: backend.TransportRSAOAEP, Encrypted: flipped}},
		{"IKEY named with OAEP", backend.TransportImportRequest{Label: testCfg.IKEYLabel, Mechanism: backend.TransportRSAOAEP, Encrypted: enc}},
		{"IKEY without IV", backend.TransportImportRequest{Label: testCfg.IKEYLabel, Mechanism: backend.TransportDES3CBCPad, Encrypted: make([]byte, 40)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Key = tk
			_, _, err := b.ImportKept(ctx, tt.req)
			require.Error(t, err)
			assert.True(t, IsTransportInputError(err), "a client error: %v", err)
			_, err = b.DecryptTransport(ctx, tt.req)
			require.Error(t, err)
			assert.True(t, IsTransportInputError(err), "a client error: %v", err)
		})
	}
}

// TestIKEYImport: material encrypted under the IKEY with DES3-CBC-PAD
// (made here inside the HSM, as the operator's ceremony tool would) is
// decrypted in the HSM; a kept import through the IKEY needs C_UnwrapKey
// with DES3, which SoftHSM2 lacks: a clear refusal of the partition.
func TestIKEYImport(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-ikey")
	require.NoError(t, err)
	key := bytes.Repeat([]byte{0x5a}, 32)
	iv := []byte("8bytesIV")
	mod, s := adminSession(t, testCfg)
	hs, err := findObjects(mod, s, pkcs11.CKO_SECRET_KEY, testCfg.IKEYLabel)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.NoError(t, mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_DES3_CBC_PAD, iv)}, hs[0]))
	enc, err := mod.Encrypt(s, key)
	require.NoError(t, err)
	req := backend.TransportImportRequest{Key: tk, Label: testCfg.IKEYLabel, Mechanism: backend.TransportDES3CBCPad, Encrypted: enc, IV: iv}

	plain, err := b.DecryptTransport(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, key, plain)

	_, _, err = b.ImportKept(ctx, req)
	require.ErrorIs(t, err, backend.ErrTransportRefused)
	assert.Contains(t, err.Error(), "DES3")
	assert.False(t, IsTransportInputError(err))
}
