package pkcs11

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/elliptic"
	"crypto/sha256"
	"testing"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// What a kept key costs per use, with the handle cache (keptcache.go) off
// and on. Off, every use verifies the tenant KEK blob's MAC, unwraps the
// KEK and the kept key, runs the operation and destroys both session
// objects; on, a use takes the cached handle. AES modes run one C_Encrypt
// per block either way.
//
//	go test ./backend/pkcs11 -run '^$' -bench Kept -benchtime 2s

// cacheModes runs bench with the kept-key cache off, then on.
func cacheModes(b *testing.B, be *Backend, bench func(b *testing.B)) {
	for _, mode := range []struct {
		name string
		cap  int
	}{{"cache=off", 0}, {"cache=on", keptCacheSize}} {
		for _, m := range be.members {
			m.keptCap = mode.cap
		}
		b.Run(mode.name, bench)
	}
}

func BenchmarkKeptAESGCM1KiB(b *testing.B) {
	be, key := benchBackend(b, testCfg)
	ctx := context.Background()
	kept, err := be.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: key, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	data, nonce := make([]byte, 1024), make([]byte, 12)
	cacheModes(b, be, func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := be.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: key, Wrapped: kept}, func(blk cipher.Block) error {
				aead, err := cipher.NewGCM(blk)
				if err != nil {
					return err
				}
				_ = aead.Seal(nil, nonce, data, nil)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkKeptKeyWrapAES256(b *testing.B) {
	be, key := benchBackend(b, testCfg)
	ctx := context.Background()
	kept, err := be.KeepSecretKey(ctx, backend.KeepSecretKeyRequest{Key: key, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	cacheModes(b, be, func(b *testing.B) {
		for b.Loop() {
			if err := be.WithKeptBlock(ctx, backend.KeptKeyRequest{Key: key, Wrapped: kept}, func(blk cipher.Block) error {
				// KW of a 32-byte key: 6 rounds of 4 blocks.
				buf := make([]byte, 16)
				for range 24 {
					blk.Encrypt(buf, buf)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkKeptSignECDSAP256(b *testing.B) {
	be, key := benchBackend(b, testCfg)
	ctx := context.Background()
	_, kept, err := be.KeepKeyPair(ctx, backend.KeepKeyPairRequest{Key: key, Curve: elliptic.P256()})
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("bench"))
	cacheModes(b, be, func(b *testing.B) {
		for b.Loop() {
			if _, err := be.KeptSign(ctx, backend.KeptSignRequest{KeptKeyRequest: backend.KeptKeyRequest{Key: key, Wrapped: kept}, Scheme: backend.SignECDSA, Hash: crypto.SHA256, Digest: digest[:]}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
