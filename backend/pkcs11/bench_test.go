package pkcs11

import (
	"context"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// The backend's Create and Get paths against the raw PKCS#11 calls they
// make, so that the cost of the pool, the set and the envelope shows:
//
//	Create: Random(32) for the material, then Seal: C_GenerateRandom (IV),
//	        C_EncryptInit and C_Encrypt (AES-GCM) under the tenant KEK.
//	Get:    Open: C_DecryptInit and C_Decrypt (AES-GCM).
//
//	go test ./backend/pkcs11 -run '^$' -bench . -benchtime 2s
//
// The Set variants run the same paths in parallel on one partition and on
// the two-member HA set (two SoftHSM2 instances in this process).

func benchBackend(b *testing.B, cfg config.PKCS11) (*Backend, backend.TenantKey) {
	b.Helper()
	if skipReason != "" {
		b.Skip(skipReason)
	}
	be, err := Open(quiet(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = be.Close() })
	key, err := be.NewTenantKey(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return be, key
}

func create(ctx context.Context, be *Backend, key backend.TenantKey) ([]byte, error) {
	material, err := be.Random(ctx, 32)
	if err != nil {
		return nil, err
	}
	return be.Seal(ctx, backend.SealRequest{Key: key, Plaintext: material, AdditionalData: []byte("uid=bench;alg=AES;len=256")})
}

func BenchmarkCreate(b *testing.B) {
	be, key := benchBackend(b, testCfg)
	ctx := context.Background()
	for b.Loop() {
		if _, err := create(ctx, be, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	be, key := benchBackend(b, testCfg)
	ctx := context.Background()
	ct, err := create(ctx, be, key)
	if err != nil {
		b.Fatal(err)
	}
	req := backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: []byte("uid=bench;alg=AES;len=256")}
	for b.Loop() {
		if _, err := be.Open(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// rawSession is a logged-in session with an AES-256 session key, on the
// module and token of testCfg.
func rawSession(b *testing.B) (p11, pkcs11.SessionHandle, pkcs11.ObjectHandle) {
	b.Helper()
	if skipReason != "" {
		b.Skip(skipReason)
	}
	mod, err := acquireModule(testCfg.Module, moduleEnv{SoftHSM2Conf: testCfg.SoftHSM2Conf}, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(mod.release)
	slot, err := findSlot(mod, testCfg.TokenLabel)
	if err != nil {
		b.Fatal(err)
	}
	s, err := mod.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mod.CloseSession(s) })
	if err := mod.Login(s, pkcs11.CKU_USER, testUserPIN); err != nil && !isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		b.Fatal(err)
	}
	k, err := mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
		append(kekTemplate(), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32)))
	if err != nil {
		b.Fatal(err)
	}
	return mod, s, k
}

func BenchmarkRawCreate(b *testing.B) {
	mod, s, k := rawSession(b)
	aad := []byte("uid=bench;alg=AES;len=256")
	for b.Loop() {
		material, err := mod.GenerateRandom(s, 32)
		if err != nil {
			b.Fatal(err)
		}
		iv, err := mod.GenerateRandom(s, gcmIVSize)
		if err != nil {
			b.Fatal(err)
		}
		gcm := pkcs11.NewGCMParams(iv, aad, gcmTagBits)
		if err := mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, k); err != nil {
			b.Fatal(err)
		}
		if _, err := mod.Encrypt(s, material); err != nil {
			b.Fatal(err)
		}
		gcm.Free()
	}
}

func BenchmarkRawGet(b *testing.B) {
	mod, s, k := rawSession(b)
	aad := []byte("uid=bench;alg=AES;len=256")
	iv := make([]byte, gcmIVSize)
	gcm := pkcs11.NewGCMParams(iv, aad, gcmTagBits)
	if err := mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, k); err != nil {
		b.Fatal(err)
	}
	ct, err := mod.Encrypt(s, make([]byte, 32))
	gcm.Free()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		gcm := pkcs11.NewGCMParams(iv, aad, gcmTagBits)
		if err := mod.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}, k); err != nil {
			b.Fatal(err)
		}
		if _, err := mod.Decrypt(s, ct); err != nil {
			b.Fatal(err)
		}
		gcm.Free()
	}
}

// BenchmarkSetCreate runs Create in parallel on one partition and on the
// HA set of two.
func BenchmarkSetCreate(b *testing.B) {
	for _, tt := range []struct {
		name string
		cfg  config.PKCS11
	}{{"members=1", testCfg}, {"members=2", haCfg}} {
		b.Run(tt.name, func(b *testing.B) {
			be, key := benchBackend(b, tt.cfg)
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := create(ctx, be, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
