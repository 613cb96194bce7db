package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOVHCryptoServices drives the cryptographic operations with
// ovh/kmip-go, a client with its own codec: AES-GCM with the
// Authenticated Encryption Tag (which PyKMIP cannot carry) at 1.4 and
// 2.0, a wrong tag refused, Hash; and its crypto.Signer, which signs
// through the server's Sign, on RSA (PSS and PKCS#1 v1.5) and EC pairs
// made by Create Key Pair, each signature checked by Go.
func TestOVHCryptoServices(t *testing.T) {
	s := mainServer(t)
	for _, v := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(v.String(), func(t *testing.T) {
			c := ovhDial(t, s, v)
			id := ovhCreateAES(t, c, 256)
			_, err := c.Activate(id).Exec()
			require.NoError(t, err)
			plain := []byte("sealed by the server, checked by ovh/kmip-go")
			enc, err := c.Encrypt(id).WithCryptographicParameters(kmip.AES_GCM).WithAAD([]byte("aad")).Data(plain).Exec()
			require.NoError(t, err)
			require.Len(t, enc.IVCounterNonce, 12, "the server made the nonce")
			require.Len(t, enc.AuthenticatedEncryptionTag, 16)
			dec, err := c.Decrypt(id).WithCryptographicParameters(kmip.AES_GCM).WithIvCounterNonce(enc.IVCounterNonce).
				WithAAD([]byte("aad")).WithAuthTag(enc.AuthenticatedEncryptionTag).Data(enc.Data).Exec()
			require.NoError(t, err)
			assert.Equal(t, plain, dec.Data)
			bad := append([]byte(nil), enc.AuthenticatedEncryptionTag...)
			bad[0] ^= 1
			_, err = c.Decrypt(id).WithCryptographicParameters(kmip.AES_GCM).WithIvCounterNonce(enc.IVCounterNonce).
				WithAAD([]byte("aad")).WithAuthTag(bad).Data(enc.Data).Exec()
			assert.ErrorContains(t, err, "CryptographicFailure")

			h, err := c.Hash().WithCryptographicParameters(kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_256}).Data(plain).Exec()
			require.NoError(t, err)
			want := sha256.Sum256(plain)
			assert.Equal(t, want[:], h.Data)
		})
	}

	c := ovhDial(t, s, kmip.V1_4)
	digest := sha256.Sum256([]byte("signed through KMIP"))
	for _, tt := range []struct {
		name string
		make func() (priv, pub string)
		opts crypto.SignerOpts
	}{
		{"RSA PSS", func() (string, string) { return ovhPair(t, c, "rsa") }, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
		{"RSA PKCS1 v1.5", func() (string, string) { return ovhPair(t, c, "rsa") }, crypto.SHA256},
		{"ECDSA P-256", func() (string, string) { return ovhPair(t, c, "ec") }, crypto.SHA256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			priv, pub := tt.make()
			signer, err := c.Signer(context.Background(), priv, pub)
			require.NoError(t, err)
			sig, err := signer.Sign(rand.Reader, digest[:], tt.opts)
			require.NoError(t, err)
			switch k := signer.Public().(type) {
			case *rsa.PublicKey:
				if pss, ok := tt.opts.(*rsa.PSSOptions); ok {
					assert.NoError(t, rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, pss))
				} else {
					assert.NoError(t, rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig))
				}
			case *ecdsa.PublicKey:
				assert.True(t, ecdsa.VerifyASN1(k, digest[:], sig))
			default:
				t.Fatalf("public key %T", k)
			}
		})
	}
}

// ovhPair makes an activated RSA-2048 or EC P-256 pair through c.
func ovhPair(t *testing.T, c *kmipclient.Client, kind string) (priv, pub string) {
	t.Helper()
	sign, verify := kmip.CryptographicUsageSign, kmip.CryptographicUsageVerify
	ex := c.CreateKeyPair().RSA(2048, sign, verify)
	if kind == "ec" {
		ex = c.CreateKeyPair().ECDSA(kmip.RecommendedCurveP_256, sign, verify)
	}
	resp, err := ex.Exec()
	require.NoError(t, err)
	for _, id := range []string{resp.PrivateKeyUniqueIdentifier, resp.PublicKeyUniqueIdentifier} {
		_, err := c.Activate(id).Exec()
		require.NoError(t, err)
	}
	return resp.PrivateKeyUniqueIdentifier, resp.PublicKeyUniqueIdentifier
}
