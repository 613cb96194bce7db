package pkcs11

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

func TestIVSequence(t *testing.T) {
	ff := bytes.Repeat([]byte{0xff}, gcmIVSize)
	tests := []struct {
		name  string
		start []byte
		want  [][]byte // the first IVs taken
	}{
		{
			name:  "counts up from the drawn start",
			start: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xfe},
			want: [][]byte{
				{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xfe},
				{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff},
				{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 0x00},
			},
		},
		{
			name:  "carries through every byte",
			start: append([]byte{0}, ff[1:]...),
			want:  [][]byte{append([]byte{0}, ff[1:]...), {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		},
		{
			name:  "wraps at 2^96",
			start: ff,
			want:  [][]byte{ff, make([]byte, gcmIVSize)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q ivSequence
			draws := 0
			draw := func(n int) ([]byte, error) {
				draws++
				assert.Equal(t, gcmIVSize, n)
				return bytes.Clone(tt.start), nil
			}
			var got [][]byte
			for range tt.want {
				iv, err := q.take(draw)
				require.NoError(t, err)
				got = append(got, iv)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, 1, draws, "the start is drawn once")
		})
	}
}

func TestIVSequenceDrawFails(t *testing.T) {
	var q ivSequence
	_, err := q.take(func(int) ([]byte, error) { return nil, errors.New("token gone") })
	require.ErrorContains(t, err, "token gone")
	_, err = q.take(func(int) ([]byte, error) { return []byte{1, 2, 3}, nil })
	require.ErrorContains(t, err, "3 bytes")
	// A failed draw leaves the sequence unseeded: the next take draws again.
	start := []byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}
	iv, err := q.take(func(int) ([]byte, error) { return bytes.Clone(start), nil })
	require.NoError(t, err)
	assert.Equal(t, start, iv)
}

// The IVs a member hands out never repeat, and a returned IV is the
// caller's to keep (the sequence moves on without touching it).
func TestIVSequenceDistinct(t *testing.T) {
	var q ivSequence
	draw := func(int) ([]byte, error) { return []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x00}, nil }
	seen := map[string]bool{}
	first, err := q.take(draw)
	require.NoError(t, err)
	kept := bytes.Clone(first)
	seen[string(first)] = true
	for range 1000 {
		iv, err := q.take(draw)
		require.NoError(t, err)
		require.False(t, seen[string(iv)], "IV %x repeated", iv)
		seen[string(iv)] = true
	}
	assert.Equal(t, kept, first)
}

// Seals of one backend use consecutive IVs of one sequence, so that the
// same plaintext never seals to the same bytes, and every seal opens.
func TestSealIVsAreConsecutive(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-ivs")
	require.NoError(t, err)
	pt := bytes.Repeat([]byte{7}, 32)
	req := backend.SealRequest{Key: key, Plaintext: pt, AdditionalData: []byte("uid=iv")}
	var ivs []*big.Int
	for range 3 {
		ct, err := b.Seal(ctx, req)
		require.NoError(t, err)
		ivs = append(ivs, new(big.Int).SetBytes(ct[1:sealedHeader]))
		got, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: req.AdditionalData})
		require.NoError(t, err)
		require.Equal(t, pt, got)
	}
	mod := new(big.Int).Lsh(big.NewInt(1), 8*gcmIVSize)
	for i := 1; i < len(ivs); i++ {
		want := new(big.Int).Add(ivs[i-1], big.NewInt(1))
		assert.Zero(t, want.Mod(want, mod).Cmp(ivs[i]), "IV %d is not IV %d plus one", i, i-1)
	}
}
