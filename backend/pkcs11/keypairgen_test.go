package pkcs11

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// pairRecorder is the real module with a log of the key pairs it made and
// the objects it destroyed; failRead makes C_GetAttributeValue fail, to see
// that a pair is destroyed on an error too.
type pairRecorder struct {
	p11
	mu        sync.Mutex
	mechs     []uint
	private   [][]*pkcs11.Attribute
	made      []pkcs11.ObjectHandle
	destroyed map[pkcs11.ObjectHandle]bool
	failRead  bool
}

func (r *pairRecorder) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	pub, priv, err := r.p11.GenerateKeyPair(sh, m, public, private)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mechs = append(r.mechs, m[0].Mechanism)
	r.private = append(r.private, private)
	if err == nil {
		r.made = append(r.made, pub, priv)
	}
	return pub, priv, err
}

func (r *pairRecorder) DestroyObject(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle) error {
	r.mu.Lock()
	r.destroyed[o] = true
	r.mu.Unlock()
	return r.p11.DestroyObject(sh, o)
}

func (r *pairRecorder) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	r.mu.Lock()
	fail := r.failRead
	r.mu.Unlock()
	if fail {
		return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
	}
	return r.p11.GetAttributeValue(sh, o, a)
}

// TestGenerateKeyPairInTheHSM: the extractable key pairs of Create Key
// Pair (backend.KeyPairGenerator) come from C_GenerateKeyPair, as session
// objects that are readable once (not sensitive, extractable, not on the
// token), and both halves are destroyed afterwards, after a failure too.
// The keys are valid and different each time.
func TestGenerateKeyPairInTheHSM(t *testing.T) {
	requireSoftHSM2(t)
	rec := &pairRecorder{destroyed: map[pkcs11.ObjectHandle]bool{}}
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
	tk, err := b.NewTenantKey(ctx, "tenant-pairs")
	require.NoError(t, err)
	var g backend.KeyPairGenerator = b

	for _, tt := range []struct {
		name string
		req  backend.GenerateKeyPairRequest
		mech uint
	}{
		{"RSA-2048", backend.GenerateKeyPairRequest{Key: tk, RSABits: 2048}, pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN},
		{"P-256", backend.GenerateKeyPairRequest{Key: tk, Curve: elliptic.P256()}, pkcs11.CKM_EC_KEY_PAIR_GEN},
		{"P-384", backend.GenerateKeyPairRequest{Key: tk, Curve: elliptic.P384()}, pkcs11.CKM_EC_KEY_PAIR_GEN},
		{"P-521", backend.GenerateKeyPairRequest{Key: tk, Curve: elliptic.P521()}, pkcs11.CKM_EC_KEY_PAIR_GEN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.mechs, rec.private, rec.made = nil, nil, nil
			rec.mu.Unlock()
			k1, err := g.GenerateKeyPair(ctx, tt.req)
			require.NoError(t, err)
			k2, err := g.GenerateKeyPair(ctx, tt.req)
			require.NoError(t, err)
			switch k := k1.(type) {
			case *rsa.PrivateKey:
				require.NoError(t, k.Validate())
				assert.Equal(t, 2048, k.N.BitLen())
				assert.NotEqual(t, k.N, k2.(*rsa.PrivateKey).N)
			case *ecdsa.PrivateKey:
				assert.Equal(t, tt.req.Curve, k.Curve)
				b1, err := k.Bytes()
				require.NoError(t, err)
				b2, err := k2.(*ecdsa.PrivateKey).Bytes()
				require.NoError(t, err)
				assert.NotEqual(t, b1, b2)
			default:
				t.Fatalf("key %T", k1)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			assert.Equal(t, []uint{tt.mech, tt.mech}, rec.mechs, "C_GenerateKeyPair made each pair")
			for _, tmpl := range rec.private {
				token, _ := flag(tmpl, pkcs11.CKA_TOKEN)
				sensitive, _ := flag(tmpl, pkcs11.CKA_SENSITIVE)
				extractable, _ := flag(tmpl, pkcs11.CKA_EXTRACTABLE)
				assert.False(t, token, "a session object")
				assert.False(t, sensitive, "readable once")
				assert.True(t, extractable)
			}
			require.Len(t, rec.made, 4)
			for _, h := range rec.made {
				assert.True(t, rec.destroyed[h], "object %d destroyed", h)
			}
		})
	}

	// A failure after the generation still destroys the pair.
	rec.mu.Lock()
	rec.made, rec.failRead = nil, true
	rec.mu.Unlock()
	_, err = g.GenerateKeyPair(ctx, backend.GenerateKeyPairRequest{Key: tk, Curve: elliptic.P256()})
	require.Error(t, err)
	assert.True(t, errors.Is(err, backend.ErrUnavailable), "%v", err)
	rec.mu.Lock()
	rec.failRead = false
	require.NotEmpty(t, rec.made)
	for _, h := range rec.made {
		assert.True(t, rec.destroyed[h], "object %d destroyed after the failed read", h)
	}
	rec.mu.Unlock()
}
