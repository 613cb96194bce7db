package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

func TestGenerateRSA(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	k1, err := b.GenerateRSA(ctx, 2048)
	require.NoError(t, err)
	assert.Equal(t, 2048, k1.N.BitLen())
	assert.Equal(t, 65537, k1.E)
	require.NoError(t, k1.Validate())
	// It works as a key: sign with it, verify with its public half.
	digest := sha256.Sum256([]byte("made in the HSM"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k1, crypto.SHA256, digest[:])
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPKCS1v15(&k1.PublicKey, crypto.SHA256, digest[:], sig))
	k2, err := b.GenerateRSA(ctx, 2048)
	require.NoError(t, err)
	assert.NotEqual(t, k1.N, k2.N)

	_, err = b.GenerateRSA(ctx, 1024)
	assert.ErrorContains(t, err, "outside 2048..4096")
	// Nothing stays on the token.
	assert.Equal(t, 3+2*testCfg.TKEKCount, tokenObjects(t, testCfg))
}

func TestGenerateECDSA(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			k, err := b.GenerateECDSA(ctx, curve)
			require.NoError(t, err)
			assert.Equal(t, curve, k.Curve)
			digest := sha256.Sum256([]byte("made in the HSM"))
			sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig))
		})
	}
	_, err := b.GenerateECDSA(ctx, elliptic.P224())
	assert.ErrorContains(t, err, "not P-256, P-384 or P-521")
}

func TestRecordMAC(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	record := []byte(`{"id":"42","rev":3,"attrs":"...","sealed":"..."}`)
	mac, err := b.MACRecord(ctx, "tenant-a", record)
	require.NoError(t, err)
	assert.Len(t, mac, 16, "AES-CMAC of the provisioned SKEY")
	require.NoError(t, b.VerifyRecord(ctx, "tenant-a", record, mac))

	flipped := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name   string
		tenant string
		record []byte
		mac    []byte
	}{
		{"one byte of the record flipped", "tenant-a", flipped(record, 10), mac},
		{"last byte of the record flipped", "tenant-a", flipped(record, len(record)-1), mac},
		{"record cut", "tenant-a", record[:len(record)-1], mac},
		{"MAC flipped", "tenant-a", record, flipped(mac, 0)},
		{"MAC cut", "tenant-a", record, mac[:8]},
		{"no MAC", "tenant-a", record, nil},
		{"another tenant", "tenant-b", record, mac},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.VerifyRecord(ctx, tt.tenant, tt.record, tt.mac)
			require.ErrorIs(t, err, backend.ErrIntegrity)
		})
	}
	// A tenant key blob's MAC is not a record's MAC (separate domains).
	tk, err := b.NewTenantKey(ctx, "tenant-a")
	require.NoError(t, err)
	blob, err := parseTenantKey(tk.Blob)
	require.NoError(t, err)
	err = b.VerifyRecord(ctx, "tenant-a", blob.signed, blob.mac)
	require.ErrorIs(t, err, backend.ErrIntegrity)
}

// TestRecordMACAcrossMembers: a MAC made by one member verifies on the
// other (they hold the same SKEY), and a record survives a failover.
func TestRecordMACAcrossMembers(t *testing.T) {
	b, _, mods := openHA(t, nil)
	ctx := context.Background()
	record := []byte("record")
	mac, err := b.MACRecord(ctx, "t", record)
	require.NoError(t, err)
	for _, victim := range mods {
		victim.kill()
		require.NoError(t, b.VerifyRecord(ctx, "t", record, mac))
		victim.restart()
		waitUp(t, b, true, true)
	}
}

func BenchmarkRecordMAC(b *testing.B) {
	be, _ := benchBackend(b, testCfg)
	ctx := context.Background()
	record := bytes.Repeat([]byte("r"), 512)
	mac, err := be.MACRecord(ctx, "bench", record)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("MAC", func(b *testing.B) {
		for b.Loop() {
			if _, err := be.MACRecord(ctx, "bench", record); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			if err := be.VerifyRecord(ctx, "bench", record, mac); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("VerifyParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := be.VerifyRecord(ctx, "bench", record, mac); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
