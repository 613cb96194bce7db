// Package backendtest is the conformance suite every backend.Backend runs:
// it defines what the envelope must guarantee, whichever root of trust is
// behind it. A backend's tests call Run with a constructor:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend { ... })
//	}
package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Run checks newBackend's backends: Seal/Open round trips; a changed
// ciphertext, tenant key blob (including another tenant's blob) or
// additional data gives backend.ErrIntegrity; tenant keys are distinct and
// do not open each other's ciphertexts; Seal is randomized; concurrent use
// from 16 goroutines; Close twice is safe.
//
// newBackend returns a fresh, open backend; it should register its own
// cleanup (the suite closes some backends itself, so Close must tolerate
// being called again).
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)

	b := newBackend(t)
	keyA, err := b.NewTenantKey(ctx, "tenant-a")
	require.NoError(t, err)
	require.Equal(t, "tenant-a", keyA.TenantID)
	require.NotEmpty(t, keyA.Blob)
	keyB, err := b.NewTenantKey(ctx, "tenant-b")
	require.NoError(t, err)

	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(ctx, t, b, keyA) })
	t.Run("TamperedCiphertext", func(t *testing.T) { testTamperedCiphertext(ctx, t, b, keyA) })
	t.Run("TamperedTenantKey", func(t *testing.T) { testTamperedTenantKey(ctx, t, b, keyA, keyB) })
	t.Run("DifferentAdditionalData", func(t *testing.T) { testDifferentAAD(ctx, t, b, keyA) })
	t.Run("TenantKeysAreDistinct", func(t *testing.T) { testTenantKeysDistinct(ctx, t, b, keyA, keyB) })
	t.Run("SealIsRandomized", func(t *testing.T) { testSealRandomized(ctx, t, b, keyA) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(ctx, t, b, keyA, keyB) })
	t.Run("CloseTwice", func(t *testing.T) { testCloseTwice(ctx, t, newBackend(t)) })
}

func testRoundTrip(ctx context.Context, t *testing.T, b backend.Backend, key backend.TenantKey) {
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"AES-256 key", seq(32, 1), []byte("uid=1234;alg=AES;len=256")},
		{"one byte", []byte{0x42}, []byte("uid=1")},
		{"empty", []byte{}, []byte("uid=empty")},
		{"4 KiB", seq(4096, 7), []byte("uid=big")},
		{"no additional data", seq(32, 3), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: tt.plaintext, AdditionalData: tt.aad})
			require.NoError(t, err)
			pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: tt.aad})
			require.NoError(t, err)
			assert.True(t, bytes.Equal(tt.plaintext, pt), "round trip changed the plaintext")
		})
	}
}

func testTamperedCiphertext(ctx context.Context, t *testing.T, b backend.Backend, key backend.TenantKey) {
	aad := []byte("uid=tamper")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: seq(32, 9), AdditionalData: aad})
	require.NoError(t, err)
	tests := []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"first byte flipped", flip(0)},
		{"second byte flipped", flip(1)},
		{"middle byte flipped", flip(len(ct) / 2)},
		{"last byte flipped", flip(len(ct) - 1)},
		{"last byte cut", func(c []byte) []byte { return c[:len(c)-1] }},
		{"byte appended", func(c []byte) []byte { return append(c, 0) }},
		{"only the first half", func(c []byte) []byte { return c[:len(c)/2] }},
		{"empty", func([]byte) []byte { return []byte{} }},
		{"nil", func([]byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.mutate(bytes.Clone(ct))
			pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: bad, AdditionalData: aad})
			require.ErrorIs(t, err, backend.ErrIntegrity)
			assert.Nil(t, pt)
		})
	}
}

func testTamperedTenantKey(ctx context.Context, t *testing.T, b backend.Backend, keyA, keyB backend.TenantKey) {
	aad := []byte("uid=blob")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: keyA, Plaintext: seq(32, 11), AdditionalData: aad})
	require.NoError(t, err)
	blob := keyA.Blob
	tests := []struct {
		name string
		key  backend.TenantKey
	}{
		{"first byte flipped", backend.TenantKey{TenantID: keyA.TenantID, Blob: flip(0)(bytes.Clone(blob))}},
		{"middle byte flipped", backend.TenantKey{TenantID: keyA.TenantID, Blob: flip(len(blob) / 2)(bytes.Clone(blob))}},
		{"last byte flipped", backend.TenantKey{TenantID: keyA.TenantID, Blob: flip(len(blob) - 1)(bytes.Clone(blob))}},
		{"last byte cut", backend.TenantKey{TenantID: keyA.TenantID, Blob: bytes.Clone(blob[:len(blob)-1])}},
		{"byte appended", backend.TenantKey{TenantID: keyA.TenantID, Blob: append(bytes.Clone(blob), 0)}},
		{"empty", backend.TenantKey{TenantID: keyA.TenantID, Blob: []byte{}}},
		{"other tenant's blob swapped in", backend.TenantKey{TenantID: keyA.TenantID, Blob: bytes.Clone(keyB.Blob)}},
		{"blob moved to other tenant", backend.TenantKey{TenantID: keyB.TenantID, Blob: bytes.Clone(blob)}},
		{"tenant ID extended", backend.TenantKey{TenantID: keyA.TenantID + "x", Blob: bytes.Clone(blob)}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/Open", func(t *testing.T) {
			pt, err := b.Open(ctx, backend.OpenRequest{Key: tt.key, Ciphertext: ct, AdditionalData: aad})
			require.ErrorIs(t, err, backend.ErrIntegrity)
			assert.Nil(t, pt)
		})
		t.Run(tt.name+"/Seal", func(t *testing.T) {
			_, err := b.Seal(ctx, backend.SealRequest{Key: tt.key, Plaintext: seq(32, 12), AdditionalData: aad})
			require.ErrorIs(t, err, backend.ErrIntegrity)
		})
	}
	// The genuine key still works after all that (nothing was cached
	// from a bad blob).
	_, err = b.Open(ctx, backend.OpenRequest{Key: keyA, Ciphertext: ct, AdditionalData: aad})
	require.NoError(t, err)
}

func testDifferentAAD(ctx context.Context, t *testing.T, b backend.Backend, key backend.TenantKey) {
	aad := []byte("uid=5678;state=active")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: seq(32, 13), AdditionalData: aad})
	require.NoError(t, err)
	tests := []struct {
		name string
		aad  []byte
	}{
		{"one byte changed", flip(4)(bytes.Clone(aad))},
		{"byte appended", append(bytes.Clone(aad), 0)},
		{"last byte cut", aad[:len(aad)-1]},
		{"none", nil},
		{"another object's", []byte("uid=5679;state=active")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: tt.aad})
			require.ErrorIs(t, err, backend.ErrIntegrity)
			assert.Nil(t, pt)
		})
	}
}

func testTenantKeysDistinct(ctx context.Context, t *testing.T, b backend.Backend, keyA, keyB backend.TenantKey) {
	assert.NotEqual(t, keyA.Blob, keyB.Blob)
	again, err := b.NewTenantKey(ctx, keyA.TenantID)
	require.NoError(t, err)
	assert.NotEqual(t, keyA.Blob, again.Blob, "two keys for one tenant must differ")

	aad := []byte("uid=cross")
	tests := []struct {
		name     string
		sealWith backend.TenantKey
		openWith backend.TenantKey
	}{
		{"A's ciphertext under B's key", keyA, keyB},
		{"B's ciphertext under A's key", keyB, keyA},
		{"A's ciphertext under A's second key", keyA, again},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := b.Seal(ctx, backend.SealRequest{Key: tt.sealWith, Plaintext: seq(32, 17), AdditionalData: aad})
			require.NoError(t, err)
			pt, err := b.Open(ctx, backend.OpenRequest{Key: tt.openWith, Ciphertext: ct, AdditionalData: aad})
			require.ErrorIs(t, err, backend.ErrIntegrity)
			assert.Nil(t, pt)
		})
	}
}

func testSealRandomized(ctx context.Context, t *testing.T, b backend.Backend, key backend.TenantKey) {
	req := backend.SealRequest{Key: key, Plaintext: seq(32, 19), AdditionalData: []byte("uid=twice")}
	c1, err := b.Seal(ctx, req)
	require.NoError(t, err)
	c2, err := b.Seal(ctx, req)
	require.NoError(t, err)
	assert.NotEqual(t, c1, c2, "sealing the same plaintext twice must give different ciphertexts")
	for _, c := range [][]byte{c1, c2} {
		pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: c, AdditionalData: req.AdditionalData})
		require.NoError(t, err)
		assert.Equal(t, req.Plaintext, pt)
	}
}

func testConcurrent(ctx context.Context, t *testing.T, b backend.Backend, keyA, keyB backend.TenantKey) {
	const goroutines, rounds = 16, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			key := keyA
			if g%2 == 1 {
				key = keyB
			}
			for r := range rounds {
				pt := seq(32, byte(g*rounds+r))
				aad := fmt.Appendf(nil, "uid=%d-%d", g, r)
				ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: pt, AdditionalData: aad})
				if !assert.NoError(t, err, "goroutine %d round %d: seal", g, r) {
					return
				}
				got, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: aad})
				if !assert.NoError(t, err, "goroutine %d round %d: open", g, r) {
					return
				}
				if !assert.Equal(t, pt, got, "goroutine %d round %d", g, r) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func testCloseTwice(ctx context.Context, t *testing.T, b backend.Backend) {
	key, err := b.NewTenantKey(ctx, "tenant-close")
	require.NoError(t, err)
	_, err = b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: seq(32, 23)})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	_, err = b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: seq(32, 23)})
	assert.Error(t, err, "a closed backend must refuse to seal")
}

// seq is n bytes counting up from start: distinct plaintexts per test.
func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// flip returns a mutation that inverts the low bit of byte i.
func flip(i int) func([]byte) []byte {
	return func(b []byte) []byte {
		b[i] ^= 0x01
		return b
	}
}
