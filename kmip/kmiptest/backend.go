package kmiptest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// SoftBackend is a software root of trust for protocol tests: tenant KEKs
// are random AES keys sealed by a process key with AES-GCM.
type SoftBackend struct{ root cipher.AEAD }

// NewSoftBackend makes a SoftBackend with a fresh root key.
func NewSoftBackend() *SoftBackend {
	return &SoftBackend{root: newGCM(randomBytes(32))}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

func seal(a cipher.AEAD, pt, ad []byte) []byte {
	nonce := randomBytes(a.NonceSize())
	return a.Seal(nonce, nonce, pt, ad)
}

func open(a cipher.AEAD, ct, ad []byte) ([]byte, error) {
	if len(ct) < a.NonceSize() {
		return nil, backend.ErrIntegrity
	}
	pt, err := a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], ad)
	if err != nil {
		return nil, backend.ErrIntegrity
	}
	return pt, nil
}

// NewTenantKey implements backend.Backend.
func (g *SoftBackend) NewTenantKey(_ context.Context, tenant string) (backend.TenantKey, error) {
	return backend.TenantKey{TenantID: tenant, Blob: seal(g.root, randomBytes(32), []byte(tenant))}, nil
}

func (g *SoftBackend) kek(tk backend.TenantKey) (cipher.AEAD, error) {
	k, err := open(g.root, tk.Blob, []byte(tk.TenantID))
	if err != nil {
		return nil, err
	}
	return newGCM(k), nil
}

// Seal implements backend.Backend.
func (g *SoftBackend) Seal(_ context.Context, r backend.SealRequest) ([]byte, error) {
	a, err := g.kek(r.Key)
	if err != nil {
		return nil, err
	}
	return seal(a, r.Plaintext, r.AdditionalData), nil
}

// Open implements backend.Backend.
func (g *SoftBackend) Open(_ context.Context, r backend.OpenRequest) ([]byte, error) {
	a, err := g.kek(r.Key)
	if err != nil {
		return nil, err
	}
	return open(a, r.Ciphertext, r.AdditionalData)
}

// Close implements backend.Backend.
func (g *SoftBackend) Close() error { return nil }

var _ backend.Backend = (*SoftBackend)(nil)
