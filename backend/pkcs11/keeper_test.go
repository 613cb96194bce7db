package pkcs11

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// recordingModule is the real module with a log of the calls that make,
// read or unwrap keys: enough to show what a kept key's material can and
// cannot reach.
type recordingModule struct {
	p11
	mu sync.Mutex
	// generated are the templates of C_GenerateKey and the private
	// templates of C_GenerateKeyPair.
	generated [][]*pkcs11.Attribute
	// unwrapped are the templates of C_UnwrapKey.
	unwrapped [][]*pkcs11.Attribute
	// read are the attribute types C_GetAttributeValue was asked for.
	read []uint
}

func (r *recordingModule) GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	r.mu.Lock()
	r.generated = append(r.generated, temp)
	r.mu.Unlock()
	return r.p11.GenerateKey(sh, m, temp)
}

func (r *recordingModule) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	r.mu.Lock()
	r.generated = append(r.generated, private)
	r.mu.Unlock()
	return r.p11.GenerateKeyPair(sh, m, public, private)
}

func (r *recordingModule) UnwrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, k pkcs11.ObjectHandle, wrapped []byte, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	r.mu.Lock()
	r.unwrapped = append(r.unwrapped, temp)
	r.mu.Unlock()
	return r.p11.UnwrapKey(sh, m, k, wrapped, temp)
}

func (r *recordingModule) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	r.mu.Lock()
	for _, at := range a {
		r.read = append(r.read, at.Type)
	}
	r.mu.Unlock()
	return r.p11.GetAttributeValue(sh, o, a)
}

// flag reads a Boolean attribute of a template.
func flag(tmpl []*pkcs11.Attribute, t uint) (value, present bool) {
	for _, a := range tmpl {
		if a.Type == t {
			return len(a.Value) == 1 && a.Value[0] == 1, true
		}
	}
	return false, false
}

// TestKeptKeysStayInTheHSM makes kept AES, RSA and EC keys and uses them,
// recording the module's calls: every kept key is generated sensitive,
// unwrapped for use sensitive and not extractable, and no call ever asks
// the HSM for a secret or private value; the operations still work, as
// Go's own cryptography checks (a round trip through the HSM's AES,
// signatures verified with the public keys the HSM returned).
func TestKeptKeysStayInTheHSM(t *testing.T) {
	requireSoftHSM2(t)
	rec := &recordingModule{}
	orig := loadModule
	loadModule = func(path string) (p11, error) {
		p, err := orig(path)
		if err != nil {
			return nil, err
		}
		rec.p11 = p
		return rec, nil
	}
	t.Cleanup(func() { loadModule = orig })
	b := openTest(t, testCfg)
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-kept")
	require.NoError(t, err)
	other, err := b.NewTenantKey(ctx, "tenant-other")
	require.NoError(t, err)
	// Only what follows counts (opening read the key set's attributes).
	rec.mu.Lock()
	rec.generated, rec.unwrapped, rec.read = nil, nil, nil
	rec.mu.Unlock()

	blob, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 256})
	require.NoError(t, err)
	assert.Len(t, blob, 1+40, "kind byte and AES-256 wrapped with padding")
	plain := []byte("sixteen byte blk and some more data for GCM")
	var sealed, opened []byte
	nonce := make([]byte, 12)
	require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blob}, func(blk cipher.Block) error {
		aead, err := cipher.NewGCM(blk)
		if err != nil {
			return err
		}
		sealed = aead.Seal(nil, nonce, plain, nil)
		return nil
	}))
	require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blob}, func(blk cipher.Block) error {
		aead, err := cipher.NewGCM(blk)
		if err != nil {
			return err
		}
		opened, err = aead.Open(nil, nonce, sealed, nil)
		return err
	}))
	assert.Equal(t, plain, opened, "GCM over the HSM's block cipher, in two uses of the kept key")

	digest := sha256.Sum256([]byte("message"))
	for _, tt := range []struct {
		name   string
		req    backend.KeepKeyPairRequest
		scheme backend.SignScheme
	}{
		{"RSA PKCS1 v1.5", backend.KeepKeyPairRequest{Key: tk, RSABits: 2048}, backend.SignPKCS1v15},
		{"RSA PSS", backend.KeepKeyPairRequest{Key: tk, RSABits: 2048}, backend.SignPSS},
		{"ECDSA P-256", backend.KeepKeyPairRequest{Key: tk, Curve: elliptic.P256()}, backend.SignECDSA},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub, priv, err := b.KeepKeyPair(ctx, tt.req)
			require.NoError(t, err)
			sig, err := b.KeptSign(ctx, backend.KeptSignRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: tk, Wrapped: priv}, Scheme: tt.scheme, Hash: crypto.SHA256, Digest: digest[:]})
			require.NoError(t, err)
			switch k := pub.(type) {
			case *rsa.PublicKey:
				if tt.scheme == backend.SignPSS {
					assert.NoError(t, rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, nil))
				} else {
					assert.NoError(t, rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig))
				}
			case *ecdsa.PublicKey:
				assert.True(t, ecdsa.VerifyASN1(k, digest[:], sig))
			default:
				t.Fatalf("public key %T", pub)
			}
		})
	}

	// A kept RSA private key decrypts inside the HSM: OAEP (SHA-1, what
	// SoftHSM2 offers) and PKCS#1 v1.5, of what Go encrypted with the
	// public key the HSM returned; a tampered ciphertext is ErrDecrypt.
	pub, priv, err := b.KeepKeyPair(ctx, backend.KeepKeyPairRequest{Key: tk, RSABits: 2048})
	require.NoError(t, err)
	secretData := []byte("a data key wrapped under the kept pair")
	oaep, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub.(*rsa.PublicKey), secretData, nil)
	require.NoError(t, err)
	keptPriv := backend.KeptKeyRequest{Key: tk, Wrapped: priv}
	got, err := b.KeptDecrypt(ctx, backend.KeptDecryptRequest{KeptKeyRequest: keptPriv, Scheme: backend.DecryptOAEP, Hash: crypto.SHA1, MGFHash: crypto.SHA1, Ciphertext: oaep})
	require.NoError(t, err)
	assert.Equal(t, secretData, got, "RSA-OAEP in the HSM")
	v15, err := rsa.EncryptPKCS1v15(rand.Reader, pub.(*rsa.PublicKey), secretData) //lint:ignore SA1019 the scheme under test (clients ask for it by name)
	require.NoError(t, err)
	got, err = b.KeptDecrypt(ctx, backend.KeptDecryptRequest{KeptKeyRequest: keptPriv, Scheme: backend.DecryptPKCS1v15, Ciphertext: v15})
	require.NoError(t, err)
	assert.Equal(t, secretData, got, "PKCS#1 v1.5 in the HSM")
	oaep256, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), secretData, nil)
	require.NoError(t, err)
	if _, err = b.KeptDecrypt(ctx, backend.KeptDecryptRequest{KeptKeyRequest: keptPriv, Scheme: backend.DecryptOAEP, Hash: crypto.SHA256, MGFHash: crypto.SHA256, Ciphertext: oaep256}); err != nil {
		assert.ErrorIs(t, err, backend.ErrNotSupported, "SoftHSM2 does OAEP with SHA-1 only: refused as such, not as an HSM failure")
	}
	oaep[10] ^= 1
	_, err = b.KeptDecrypt(ctx, backend.KeptDecryptRequest{KeptKeyRequest: keptPriv, Scheme: backend.DecryptOAEP, Hash: crypto.SHA1, MGFHash: crypto.SHA1, Ciphertext: oaep})
	assert.ErrorIs(t, err, backend.ErrDecrypt)

	// A kept HMAC key MACs inside the HSM: a registered one as Go's HMAC
	// with its material does, a generated one the same way each time.
	hmacKey := []byte("an HMAC-SHA256 key of 32 bytes!!")
	hblob, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 256, HMAC: crypto.SHA256, Material: hmacKey})
	require.NoError(t, err)
	assert.NotContains(t, string(hblob), string(hmacKey))
	mac, err := b.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: tk, Wrapped: hblob}, Hash: crypto.SHA256, Data: []byte("message")})
	require.NoError(t, err)
	goMAC := hmac.New(sha256.New, hmacKey)
	goMAC.Write([]byte("message"))
	assert.Equal(t, goMAC.Sum(nil), mac)
	gblob, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 256, HMAC: crypto.SHA256})
	require.NoError(t, err)
	mac1, err := b.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: tk, Wrapped: gblob}, Hash: crypto.SHA256, Data: []byte("message")})
	require.NoError(t, err)
	mac2, err := b.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: tk, Wrapped: gblob}, Hash: crypto.SHA256, Data: []byte("message")})
	require.NoError(t, err)
	assert.Equal(t, mac1, mac2)
	assert.Len(t, mac1, 32)
	assert.NotEqual(t, mac, mac1)
	_, err = b.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: tk, Wrapped: blob}, Hash: crypto.SHA256, Data: []byte("message")})
	assert.ErrorIs(t, err, backend.ErrIntegrity, "an AES kept key is no HMAC key")

	// A kept key does not unwrap under another tenant's KEK, nor when
	// changed.
	err = b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: other, Wrapped: blob}, func(cipher.Block) error { return nil })
	assert.ErrorIs(t, err, backend.ErrIntegrity)
	bad := append([]byte(nil), blob...)
	bad[7] ^= 1
	err = b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: bad}, func(cipher.Block) error { return nil })
	assert.ErrorIs(t, err, backend.ErrIntegrity)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.generated, 6, "one AES key, four pairs, one HMAC key")
	for i, tmpl := range rec.generated {
		sensitive, ok := flag(tmpl, pkcs11.CKA_SENSITIVE)
		assert.True(t, ok && sensitive, "generated key %d is sensitive", i)
		token, _ := flag(tmpl, pkcs11.CKA_TOKEN)
		assert.False(t, token, "generated key %d is a session object", i)
	}
	var keptUnwraps int
	for _, tmpl := range rec.unwrapped {
		extractable, ok := flag(tmpl, pkcs11.CKA_EXTRACTABLE)
		assert.True(t, ok && !extractable, "whatever is unwrapped is not extractable")
		if wrap, _ := flag(tmpl, pkcs11.CKA_WRAP); !wrap {
			keptUnwraps++
		}
	}
	assert.GreaterOrEqual(t, keptUnwraps, 7, "each kept key is unwrapped for its use (then its handle is cached)")
	assert.Equal(t, 7, b.members[0].keptCached(), "one AES key, three signing keys, one decrypting key, two HMAC keys unwrapped once each")
	secret := map[uint]string{
		pkcs11.CKA_VALUE: "CKA_VALUE", pkcs11.CKA_PRIVATE_EXPONENT: "CKA_PRIVATE_EXPONENT",
		pkcs11.CKA_PRIME_1: "CKA_PRIME_1", pkcs11.CKA_PRIME_2: "CKA_PRIME_2",
		pkcs11.CKA_EXPONENT_1: "CKA_EXPONENT_1", pkcs11.CKA_EXPONENT_2: "CKA_EXPONENT_2", pkcs11.CKA_COEFFICIENT: "CKA_COEFFICIENT",
	}
	for _, at := range rec.read {
		assert.NotContains(t, secret, at, "C_GetAttributeValue asked for %s", secret[at])
	}
	assert.NotEmpty(t, rec.read, "the public halves were read")
}

// TestKeptSignChecksTheDigest refuses a digest of the wrong length before
// any HSM call.
func TestKeptSignChecksTheDigest(t *testing.T) {
	b := &Backend{}
	_, err := b.KeptSign(context.Background(), backend.KeptSignRequest{Hash: crypto.SHA256, Digest: make([]byte, 20)})
	assert.ErrorContains(t, err, fmt.Sprint(crypto.SHA256))
}

// TestKeptRegisteredKey: a key a client gives enters the HSM and is kept
// like a generated one; the HSM's AES with it is Go's AES with the
// material.
func TestKeptRegisteredKey(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-registered")
	require.NoError(t, err)
	material := []byte("0123456789abcdef0123456789abcdef")
	blob, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 256, Material: material})
	require.NoError(t, err)
	assert.NotContains(t, string(blob), string(material))
	in := []byte("sixteen byte blk")
	got := make([]byte, 16)
	require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blob}, func(blk cipher.Block) error {
		blk.Encrypt(got, in)
		return nil
	}))
	goBlock, err := aes.NewCipher(material)
	require.NoError(t, err)
	want := make([]byte, 16)
	goBlock.Encrypt(want, in)
	assert.Equal(t, want, got)
	_, err = b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 128, Material: material})
	assert.Error(t, err, "32 bytes are no AES-128 key")
}

// TestKeptKeysOnTheHASet: a kept key is wrapped under the tenant KEK,
// which every member of a set holds the same way, so any member uses it.
func TestKeptKeysOnTheHASet(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, haCfg)
	ctx := context.Background()
	tk, err := b.NewTenantKey(ctx, "tenant-ha")
	require.NoError(t, err)
	blob, err := b.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: tk, Bits: 128})
	require.NoError(t, err)
	var first []byte
	for i := 0; i < 8; i++ {
		out := make([]byte, 16)
		require.NoError(t, b.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: tk, Wrapped: blob}, func(blk cipher.Block) error {
			blk.Encrypt(out, make([]byte, 16))
			return nil
		}))
		if first == nil {
			first = out
		}
		assert.Equal(t, first, out, "use %d gives the same block", i)
	}
	for _, m := range b.members {
		assert.NotZero(t, m.requests.Load(), "member %d served (round robin)", m.idx)
	}
}
