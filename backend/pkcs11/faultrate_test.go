package pkcs11

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// TestFaultsAtRate fails chosen PKCS#11 calls with chosen return values
// at a chosen rate while 8 callers make tenant keys, seal and open. Each
// failure reaches the caller as an error (never wrong plaintext); what was
// sealed opens once the faults stop; the open sessions stay within the
// pool's bound (no session leaks); goroutines return to their baseline;
// the backend works at once when the faults stop.
func TestFaultsAtRate(t *testing.T) {
	calls := []string{"GenerateKey", "WrapKey", "UnwrapKey", "EncryptInit", "Encrypt", "DecryptInit", "Decrypt",
		"GenerateRandom", "FindObjectsInit", "FindObjects", "GetAttributeValue", "SignInit", "Sign"}
	// memberDown: the return value takes the module out of service
	// until the prober has found it working again, so the calls of the
	// other callers fail fast meanwhile; the others cost one call.
	tests := []struct {
		name       string
		rv         uint
		memberDown bool
	}{
		{"CKR_DEVICE_ERROR", pkcs11.CKR_DEVICE_ERROR, true},
		{"CKR_SESSION_HANDLE_INVALID", pkcs11.CKR_SESSION_HANDLE_INVALID, true},
		{"CKR_DEVICE_MEMORY", pkcs11.CKR_DEVICE_MEMORY, true},
		{"CKR_GENERAL_ERROR", pkcs11.CKR_GENERAL_ERROR, false},
		{"CKR_FUNCTION_FAILED", pkcs11.CKR_FUNCTION_FAILED, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := injectFaults(t)
			cfg := testCfg
			cfg.SessionPoolSize = 4
			b, err := Open(quiet(), cfg)
			require.NoError(t, err)
			closed := false
			t.Cleanup(func() {
				if !closed {
					_ = b.Close()
				}
			})
			mod := fs.of(t, cfg.Module)
			baseline := runtime.NumGoroutine()
			ctx := context.Background()

			mod.failAtRate(0.2, tt.rv, calls...)
			type sealed struct {
				key        backend.TenantKey
				plain, ct  []byte
				additional []byte
			}
			var mu sync.Mutex
			var kept []sealed
			var failures int
			var sample []error
			note := func(err error) {
				failures++
				if len(sample) < 20 {
					sample = append(sample, err)
				}
			}
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var key backend.TenantKey
					for i := 0; i < 20; i++ {
						if key.Blob == nil {
							k, err := b.NewTenantKey(ctx, fmt.Sprintf("tenant-%d", w))
							if err != nil {
								mu.Lock()
								note(err)
								mu.Unlock()
								continue
							}
							key = k
						}
						plain := make([]byte, 32)
						_, _ = rand.Read(plain)
						ad := []byte(fmt.Sprintf("object-%d-%d", w, i))
						ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: plain, AdditionalData: ad})
						if err != nil {
							mu.Lock()
							note(err)
							mu.Unlock()
							continue
						}
						got, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: ad})
						mu.Lock()
						if err != nil {
							note(err)
						} else if !bytes.Equal(plain, got) {
							t.Errorf("opened wrong plaintext under faults")
						}
						kept = append(kept, sealed{key, plain, ct, ad})
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			hits := mod.randomHits.Load()
			t.Logf("%d PKCS#11 calls failed with %s; %d backend calls failed; %d sealed", hits, tt.name, failures, len(kept))
			require.Positive(t, hits, "the faults must have hit")
			if !tt.memberDown {
				require.NotEmpty(t, kept)
			}
			for _, err := range sample {
				if tt.rv == pkcs11.CKR_GENERAL_ERROR && errors.Is(err, backend.ErrIntegrity) {
					// SoftHSM2 answers a bad GCM tag with CKR_GENERAL_ERROR:
					// Open asks twice, and two failures in a row (4% at
					// this rate) read as a bad tag.
					continue
				}
				assert.True(t, errors.Is(err, backend.ErrUnavailable) || strings.Contains(err.Error(), "CKR_"),
					"an error that says what failed: %v", err)
			}
			if len(sample) > 0 {
				t.Logf("e.g. %v", sample[0])
			}

			mod.failAtRate(0, 0)
			key := backend.TenantKey{}
			require.Eventually(t, func() bool {
				k, err := b.NewTenantKey(ctx, "after")
				if err != nil {
					return false
				}
				key = k
				return true
			}, 30*time.Second, 50*time.Millisecond, "the backend recovers when the faults stop")
			ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("after the faults")})
			require.NoError(t, err)
			got, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct})
			require.NoError(t, err)
			assert.Equal(t, "after the faults", string(got))
			for _, s := range kept {
				got, err := b.Open(ctx, backend.OpenRequest{Key: s.key, Ciphertext: s.ct, AdditionalData: s.additional})
				require.NoError(t, err, "what was sealed opens once the faults stop")
				assert.Equal(t, s.plain, got)
			}
			mod.mu.Lock()
			open := len(mod.open)
			mod.mu.Unlock()
			// The pool's bound, plus the session the module keeps for
			// its own lookups.
			assert.LessOrEqual(t, open, cfg.SessionPoolSize+1, "open sessions")
			require.NoError(t, b.Close())
			closed = true
			mod.mu.Lock()
			open = len(mod.open)
			mod.mu.Unlock()
			assert.Zero(t, open, "sessions left open after Close")
			assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= baseline }, 5*time.Second, 20*time.Millisecond,
				"goroutines: %d, baseline %d", runtime.NumGoroutine(), baseline)
		})
	}
}
