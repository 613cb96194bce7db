package hpcs_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// FuzzKMSAnswers puts a KMS (or IAM) in front of the backend that answers
// with any status, Retry-After and body, after the real stand-in has
// answered the first `after` calls. Whatever it says, the backend must
// not panic nor hang past its timeout, and never hand back wrong
// plaintext: a tenant key it accepted either seals and opens the same
// bytes or fails with an error.
func FuzzKMSAnswers(f *testing.F) {
	kms, err := kmsdev.New(kmsdev.Config{})
	require.NoError(f, err)
	root := kms.CreateRootKey("fuzz-root")
	keyFile := filepath.Join(f.TempDir(), "api-key")
	require.NoError(f, os.WriteFile(keyFile, []byte(kms.APIKey()+"\n"), 0o600))

	var cur atomic.Pointer[kmsAnswer]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := cur.Load()
		iam := strings.HasPrefix(r.URL.Path, "/identity/")
		if a == nil || a.iam != iam || a.calls.Add(1) <= int32(a.after) {
			kms.ServeHTTP(w, r)
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Cleanup(srv.Close)
	cfg := config.HPCS{
		URL: srv.URL, IAMURL: srv.URL + "/identity/token", InstanceID: kms.InstanceID(), RootKeyID: root,
		APIKey: config.Secret{File: keyFile}, CacheTTL: time.Minute, KEKSource: "kms",
		Retries: 2, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond,
		BreakerThreshold: 1000, BreakerCooldown: time.Millisecond, Timeout: time.Second,
	}

	f.Add(false, uint8(0), uint16(200), "", []byte(`{"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},"resources":[{"ciphertext":"AAAA","plaintext":"AAAA"}]}`))
	f.Add(false, uint8(1), uint16(200), "", []byte(`{"ciphertext":"eyJjaXBoZXJ0ZXh0IjoiIn0=","keyVersion":{"id":"x"}}`))
	f.Add(false, uint8(1), uint16(200), "", []byte(`{"plaintext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","keyVersion":{"id":"x"}}`))
	f.Add(false, uint8(0), uint16(429), "99999999999999", []byte(`{"resources":[{"errorMsg":"Too Many","reasons":[{"code":"RATE"}]}]}`))
	f.Add(false, uint8(2), uint16(503), "1", []byte(``))
	f.Add(true, uint8(0), uint16(200), "", []byte(`{"access_token":"x","expires_in":-9223372036854775808}`))
	f.Add(true, uint8(0), uint16(200), "", []byte(`{"access_token":"x","expires_in":9223372036854775807}`))
	f.Add(true, uint8(0), uint16(400), "", []byte(`{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found"}`))
	f.Add(false, uint8(0), uint16(200), "", []byte(`null`))

	f.Fuzz(func(t *testing.T, iam bool, after uint8, status uint16, retryAfter string, body []byte) {
		a := &kmsAnswer{iam: iam, after: after % 4, status: 200 + int(status)%400, retryAfter: retryAfter, body: body}
		if strings.ContainsAny(retryAfter, "\r\n\x00") || !httpHeaderValue(retryAfter) {
			a.retryAfter = ""
		}
		cur.Store(a)
		defer cur.Store(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		began := time.Now()
		defer func() {
			if took := time.Since(began); took > 8*time.Second {
				t.Fatalf("the backend took %s on a misbehaving KMS", took)
			}
		}()
		b, err := hpcs.Open(ctx, cfg, hpcs.Options{})
		if err != nil {
			return
		}
		defer b.Close()
		tk, err := b.NewTenantKey(ctx, "fuzz-tenant")
		if err != nil {
			return
		}
		plain := []byte("the key material of an object")
		ct, err := b.Seal(ctx, backend.SealRequest{Key: tk, Plaintext: plain, AdditionalData: []byte("uid=1")})
		if err != nil {
			return
		}
		got, err := b.Open(ctx, backend.OpenRequest{Key: tk, Ciphertext: ct, AdditionalData: []byte("uid=1")})
		if err == nil && !bytes.Equal(got, plain) {
			t.Fatalf("opened %q, sealed %q", got, plain)
		}
	})
}

type kmsAnswer struct {
	iam        bool
	after      uint8
	calls      atomic.Int32
	status     int
	retryAfter string
	body       []byte
}

func httpHeaderValue(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
