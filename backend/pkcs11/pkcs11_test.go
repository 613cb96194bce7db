package pkcs11

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/backendtest"
	"github.com/kmip-adapter/kmip-adapter/config"
)

func TestConformance(t *testing.T) {
	requireSoftHSM2(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return openTest(t, testCfg) })
}

// TestConformanceHASet: the two-member set keeps every promise of one
// partition.
func TestConformanceHASet(t *testing.T) {
	requireSoftHSM2(t)
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := Open(quiet(), haCfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

func TestRegisteredAsPKCS11(t *testing.T) {
	requireSoftHSM2(t)
	assert.Contains(t, backend.Types(), "pkcs11")
	b, err := backend.New(context.Background(), config.Backend{Type: "pkcs11", PKCS11: testCfg})
	require.NoError(t, err)
	require.NoError(t, b.Close())
}

func TestProvisionIsIdempotent(t *testing.T) {
	requireSoftHSM2(t)
	before := tokenObjects(t, testCfg)
	// MKEK, SKEY, IKEY and a private and public key per TKEK.
	require.Equal(t, 3+2*testCfg.TKEKCount, before)

	ctx := context.Background()
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: testCfg, SOPIN: testSOPIN, UserPIN: testUserPIN}))
	// Without the SO PIN too: an existing token needs only the user PIN,
	// which comes from the configuration when not given.
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: testCfg}))
	assert.Equal(t, before, tokenObjects(t, testCfg))
}

func TestCheckAllOK(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	results := b.Check(context.Background())

	var names []string
	for _, r := range results {
		names = append(names, r.Name)
		assert.True(t, r.OK, "%s (%s): %s", r.Name, r.Label, r.Detail)
		assert.NotEmpty(t, r.Detail, r.Name)
	}
	want := []string{"MKEK", "SKEY", "IKEY"}
	for i := 1; i <= testCfg.TKEKCount; i++ {
		want = append(want, tkekLabel("TKEK", i))
	}
	want = append(want, "self-test KWP", "self-test KW", "self-test GCM", "self-test MAC", "self-test RSA-OAEP",
		"token", "mechanism KWP", "mechanism KW", "mechanism GCM", "mechanism RSA-OAEP", "mechanism AES keygen",
		"mechanism RSA keygen", "mechanism EC keygen", "mechanism MAC", "mechanism DES3-CBC-PAD",
		"policy MKEK", "policy SKEY", "policy IKEY", "policy TKEKs", "private key wrapping")
	assert.Equal(t, want, names)
}

// brokenTokens numbers the tokens TestCheckReportsWhatIsMissing makes, so
// that it can run again in the same process (go test -count=2).
var brokenTokens atomic.Int32

// TestCheckReportsWhatIsMissing uses another token in the same token
// directory, from which the SKEY and one TKEK's private key are deleted.
func TestCheckReportsWhatIsMissing(t *testing.T) {
	requireSoftHSM2(t)
	cfg := testCfg
	cfg.TokenLabel = fmt.Sprintf("kmip-test-broken-%d", brokenTokens.Add(1))
	cfg.TKEKCount = 3
	ctx := context.Background()
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: cfg, SOPIN: testSOPIN, UserPIN: testUserPIN}))
	destroyObject(t, cfg, pkcs11.CKO_SECRET_KEY, cfg.SKEYLabel)
	destroyObject(t, cfg, pkcs11.CKO_PRIVATE_KEY, tkekLabel(cfg.TKEKPrefix, 2))

	b := openTest(t, cfg)
	results := b.Check(ctx)
	tests := []struct {
		name, label string
		ok          bool
		detail      string
	}{
		{"MKEK", "MKEK", true, "AES-256"},
		{"SKEY", "SKEY", false, `no secret key labelled "SKEY"`},
		{"IKEY", "IKEY", true, "DES3"},
		{"TKEK-01", "TKEK-01", true, "RSA-2048"},
		{"TKEK-02", "TKEK-02", false, `no private key labelled "TKEK-02"`},
		{"TKEK-03", "TKEK-03", true, "RSA-2048"},
		{"self-test KWP", "MKEK", true, "0x210A"},
		{"self-test KW", "MKEK", true, "0x2109"},
		{"self-test GCM", "", true, "0x1087"},
		{"self-test MAC", "SKEY", false, "SKEY is missing"},
		{"self-test RSA-OAEP", "TKEK-01", true, "OAEP sha1"},
	}
	require.Greater(t, len(results), len(tests), "the policy lines follow (policy_test.go)")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := results[i]
			assert.Equal(t, tt.name, r.Name)
			assert.Equal(t, tt.label, r.Label)
			assert.Equal(t, tt.ok, r.OK, r.Detail)
			assert.Contains(t, r.Detail, tt.detail)
		})
	}
	r := rows(results)
	assert.False(t, r["policy SKEY"].OK)
	assert.Contains(t, r["policy SKEY"].Detail, `0 objects labelled "SKEY" (see the SKEY line)`)
	assert.NotContains(t, r, "mechanism MAC", "no SKEY: no MAC mechanism to ask about")
	assert.False(t, r["policy TKEKs"].OK)
	assert.Contains(t, r["policy TKEKs"].Detail, "TKEK-02: 0 objects")
	assert.True(t, r["policy MKEK"].OK, r["policy MKEK"].Detail)

	// The TKEK-02 line names only what is missing, not its public key.
	assert.NotContains(t, results[4].Detail, "public")

	// The envelope needs the SKEY: it says so.
	_, err := b.NewTenantKey(ctx, "tenant")
	require.ErrorIs(t, err, backend.ErrKeyMissing)
	assert.Contains(t, err.Error(), `no secret key labelled "SKEY"`)
}

func TestWrongPINIsNotInTheError(t *testing.T) {
	requireSoftHSM2(t)
	const wrong = "wrong-pin-31337"
	t.Setenv("KMIP_TEST_WRONG_PIN", wrong)
	cfg := testCfg
	cfg.PIN = config.Secret{Env: "KMIP_TEST_WRONG_PIN"}

	// PKCS#11 logs a process in per token: with a session of the token
	// open elsewhere in this process, C_Login would answer "already
	// logged in" and never look at the PIN. No other backend is open
	// here (tests of this package do not run in parallel).
	b, err := Open(context.Background(), cfg)
	if err == nil {
		_ = b.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, backend.ErrUnavailable)
	assert.Contains(t, err.Error(), "CKR_PIN_INCORRECT")
	assert.NotContains(t, err.Error(), wrong)
	assert.NotContains(t, err.Error(), testUserPIN)

	// A PIN file that is missing is named, its content never.
	cfg.PIN = config.Secret{File: filepath.Join(t.TempDir(), "no-such-pin")}
	_, err = Open(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-pin")
}

func TestSealedOutputHidesPlaintext(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-hide")
	require.NoError(t, err)
	pt := []byte("0123456789abcdef-this-is-the-secret-key-material-0123456789abcdef")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: pt, AdditionalData: []byte("uid=1")})
	require.NoError(t, err)

	assert.Len(t, ct, 1+12+len(pt)+16)
	assert.Equal(t, byte(sealedVersion), ct[0])
	assert.False(t, bytes.Contains(ct, pt))
	for i := 0; i+8 <= len(pt); i++ {
		require.False(t, bytes.Contains(ct, pt[i:i+8]), "8 plaintext bytes at %d appear in the ciphertext", i)
	}
}

func TestTenantKeyBlobLayout(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	key, err := b.NewTenantKey(context.Background(), "tenant-layout")
	require.NoError(t, err)
	blob, err := parseTenantKey(key.Blob)
	require.NoError(t, err)
	assert.Equal(t, byte(2), blob.version)
	assert.Equal(t, testCfg.MKEKLabel, blob.mkek, "the blob names its MKEK")
	assert.Len(t, blob.wrapped, 40, "RFC 5649 wrap of a 32-byte key")
	assert.Len(t, blob.mac, 16, "AES-CMAC of the provisioned AES SKEY")
}

func TestRandom(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	r1, err := b.Random(ctx, 32)
	require.NoError(t, err)
	r2, err := b.Random(ctx, 32)
	require.NoError(t, err)
	assert.Len(t, r1, 32)
	assert.NotEqual(t, r1, r2)
	r0, err := b.Random(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, r0)
	_, err = b.Random(ctx, -1)
	assert.Error(t, err)
}

func TestWaitForSessionHonorsContext(t *testing.T) {
	requireSoftHSM2(t)
	cfg := testCfg
	cfg.SessionPoolSize = 1
	b := openTest(t, cfg)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-wait")
	require.NoError(t, err)

	s, err := b.members[0].pool.get(ctx) // the only session
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = b.Seal(short, backend.SealRequest{Key: key, Plaintext: []byte("x")})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	b.members[0].pool.put(s)
	_, err = b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("x")})
	require.NoError(t, err)
}

// TestRecoversFromLostSessions closes the backend's sessions behind its
// back, as an HSM restart would: the cached KEK dies with the anchor, and
// the login with the last session.
func TestRecoversFromLostSessions(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-recover")
	require.NoError(t, err)
	aad := []byte("uid=recover")
	ct, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("secret"), AdditionalData: aad})
	require.NoError(t, err)

	tests := []struct {
		name string
		lose func(m *member)
	}{
		{"pooled sessions", func(m *member) {
			for _, s := range idleSessions(m) {
				require.NoError(t, m.mod.CloseSession(s))
			}
		}},
		{"anchor session", func(m *member) {
			m.anchorMu.Lock()
			defer m.anchorMu.Unlock()
			require.NoError(t, m.mod.CloseSession(m.anchor))
		}},
		{"every session and the login", func(m *member) {
			m.anchorMu.Lock()
			defer m.anchorMu.Unlock()
			for _, s := range idleSessions(m) {
				require.NoError(t, m.mod.CloseSession(s))
			}
			require.NoError(t, m.mod.CloseSession(m.anchor))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.lose(b.members[0])
			pt, err := b.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: ct, AdditionalData: aad})
			require.NoError(t, err)
			assert.Equal(t, []byte("secret"), pt)
			_, err = b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("more"), AdditionalData: aad})
			require.NoError(t, err)
		})
	}
}

// idleSessions lists the pool's idle sessions without taking them out.
func idleSessions(m *member) []pkcs11.SessionHandle {
	var out []pkcs11.SessionHandle
	for {
		select {
		case s := <-m.pool.idle:
			out = append(out, s)
		default:
			for _, s := range out {
				m.pool.idle <- s
			}
			return out
		}
	}
}

func TestOpenErrors(t *testing.T) {
	requireSoftHSM2(t)
	tests := []struct {
		name   string
		modify func(*config.PKCS11)
		is     error
		text   string
	}{
		{"unknown token", func(c *config.PKCS11) { c.TokenLabel = "no-such-token" }, backend.ErrUnavailable, `no token labelled "no-such-token"`},
		{"missing module", func(c *config.PKCS11) { c.Module = "/nonexistent/libpkcs11.so" }, backend.ErrUnavailable, "/nonexistent/libpkcs11.so"},
		{"unknown profile", func(c *config.PKCS11) { c.Mechanisms.Profile = "thales" }, nil, `"thales"`},
		{"no pool", func(c *config.PKCS11) { c.SessionPoolSize = 0 }, nil, "session_pool_size"},
		{"other SoftHSM2 configuration", func(c *config.PKCS11) { c.SoftHSM2Conf = "/elsewhere/softhsm2.conf" }, backend.ErrUnavailable, "SOFTHSM2_CONF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg
			tt.modify(&cfg)
			// Keep the module initialized, so the configuration check
			// has something to compare with.
			openTest(t, testCfg)
			_, err := Open(context.Background(), cfg)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.text)
		})
	}
}

func TestCloseReleasesTheModule(t *testing.T) {
	requireSoftHSM2(t)
	b := openTest(t, testCfg)
	require.NoError(t, b.Close())
	modulesMu.Lock()
	_, loaded := modules[testCfg.Module]
	modulesMu.Unlock()
	assert.False(t, loaded, "the last Close finalizes the module")
	// And it comes back.
	b2 := openTest(t, testCfg)
	_, err := b2.Random(context.Background(), 8)
	require.NoError(t, err)
}

func TestWriteSoftHSM2Conf(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	path, err := WriteSoftHSM2Conf(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "softhsm2.conf"), path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n", string(b))
	fi, err := os.Stat(filepath.Join(dir, "tokens"))
	require.NoError(t, err)
	assert.True(t, fi.IsDir())

	// Idempotent as well.
	_, err = WriteSoftHSM2Conf(dir)
	require.NoError(t, err)
}

func TestParseTenantKey(t *testing.T) {
	good, err := encodeTenantKey("MKEK", bytes.Repeat([]byte{0xAA}, 40))
	require.NoError(t, err)
	signed := len(good)
	good = append(good, bytes.Repeat([]byte{0xBB}, 16)...)
	v1 := append([]byte{0x01, 0x00, 40}, bytes.Repeat([]byte{0xAA}, 40)...)
	v1 = append(v1, bytes.Repeat([]byte{0xBB}, 16)...)
	tests := []struct {
		name    string
		blob    []byte
		ok      bool
		version byte
		mkek    string
		signed  int
	}{
		{"version 2", good, true, 2, "MKEK", signed},
		{"version 1", v1, true, 1, "", 43},
		{"empty", nil, false, 0, "", 0},
		{"version only", good[:1], false, 0, "", 0},
		{"label cut", good[:4], false, 0, "", 0},
		{"no MAC", good[:signed], false, 0, "", 0},
		{"empty label", append([]byte{0x02, 0x00}, good[6:]...), false, 0, "", 0},
		{"unknown version", append([]byte{0x03}, good[1:]...), false, 0, "", 0},
		{"length beyond the blob", append([]byte{0x01, 0xFF, 0xFF}, v1[3:]...), false, 0, "", 0},
		{"zero length", append([]byte{0x01, 0x00, 0x00}, v1[3:]...), false, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := parseTenantKey(tt.blob)
			if !tt.ok {
				require.ErrorIs(t, err, backend.ErrIntegrity)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.version, b.version)
			assert.Equal(t, tt.mkek, b.mkek)
			assert.Len(t, b.wrapped, 40)
			assert.Len(t, b.mac, 16)
			assert.Equal(t, tt.blob[:tt.signed], b.signed)
		})
	}
}

func TestMACInputSeparatesTenants(t *testing.T) {
	signed := []byte{1, 0, 1, 0xAA}
	// Without the length prefix, ("ab", "c...") and ("a", "bc...") could
	// collide; with it they cannot.
	assert.NotEqual(t, macInput(2, "ab", signed), macInput(2, "a", append([]byte("b"), signed...)))
	assert.True(t, strings.HasPrefix(string(macInput(2, "t", signed)), tenantKeyDomain+"\x00"))
	assert.True(t, strings.HasPrefix(string(macInput(1, "t", signed)), tenantKeyDomain1+"\x00"))
}

func TestMechanismsFor(t *testing.T) {
	type ids struct{ kw, kwp, gcm, cmac, hmac, oaep, oaepHash uint }
	softhsm2 := ids{0x2109, 0x210A, 0x1087, 0x108A, 0x251, 0x9, pkcs11.CKM_SHA_1}
	luna := ids{0x80000170, 0x80000171, 0x1087, 0x108A, 0x251, 0x9, pkcs11.CKM_SHA256}
	tests := []struct {
		name string
		in   config.Mechanisms
		want ids
		err  string
	}{
		{"softhsm2", config.Mechanisms{Profile: "softhsm2"}, softhsm2, ""},
		{"default profile", config.Mechanisms{}, softhsm2, ""},
		{"luna", config.Mechanisms{Profile: "luna"}, luna, ""},
		{"luna overridden", config.Mechanisms{Profile: "luna", KeyWrapPad: 0x210A, GCM: 0x8000011C, RSAOAEPHash: "sha1"},
			ids{0x80000170, 0x210A, 0x8000011C, 0x108A, 0x251, 0x9, pkcs11.CKM_SHA_1}, ""},
		{"every id overridden", config.Mechanisms{Profile: "softhsm2", KeyWrap: 1, KeyWrapPad: 2, GCM: 3, CMAC: 4, HMAC: 5, RSAOAEP: 6, RSAOAEPHash: "sha512"},
			ids{1, 2, 3, 4, 5, 6, pkcs11.CKM_SHA512}, ""},
		{"unknown profile", config.Mechanisms{Profile: "nope"}, ids{}, `"nope"`},
		{"unknown OAEP hash", config.Mechanisms{RSAOAEPHash: "md5"}, ids{}, `"md5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mechanismsFor(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids{m.kw, m.kwp, m.gcm, m.cmac, m.hmac, m.oaep, m.oaepHash})
			assert.Equal(t, m.cmac, m.macFor(pkcs11.CKM_AES_CMAC))
			assert.Equal(t, m.hmac, m.macFor(pkcs11.CKM_SHA256_HMAC))
		})
	}
}

func TestModulusBits(t *testing.T) {
	assert.Equal(t, 2048, modulusBits(append([]byte{0x80}, make([]byte, 255)...)))
	assert.Equal(t, 2047, modulusBits(append([]byte{0x00, 0x40}, make([]byte, 255)...)))
	assert.Equal(t, 0, modulusBits(nil))
}
