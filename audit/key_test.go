package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
)

const softHSM2Module = "/usr/lib/softhsm/libsofthsm2.so"

// hsmCfg is a SoftHSM2 token provisioned once for the package's tests.
var hsmCfg config.PKCS11

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kmip-audit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	conf, err := pkcs11.WriteSoftHSM2Conf(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	pin := filepath.Join(dir, "pin")
	if err := os.WriteFile(pin, []byte("1234\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hsmCfg = config.Default().Backend.PKCS11
	hsmCfg.Module = softHSM2Module
	hsmCfg.SoftHSM2Conf = conf
	hsmCfg.TokenLabel = "audit-test"
	hsmCfg.PIN = config.Secret{File: pin}
	hsmCfg.TKEKCount = 0
	hsmCfg.SessionPoolSize = 2
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pkcs11.Provision(ctx, pkcs11.ProvisionOptions{PKCS11: hsmCfg, SOPIN: "5678", UserPIN: "1234"}); err != nil {
		fmt.Fprintln(os.Stderr, "provision SoftHSM2 (apt-get install softhsm2):", err)
		return 1
	}
	return m.Run()
}

func openHSM(t *testing.T) backend.Backend {
	t.Helper()
	be, err := pkcs11.Open(context.Background(), hsmCfg)
	require.NoError(t, err)
	t.Cleanup(func() { be.Close() })
	return be
}

func TestKeyFileRoundTripThroughTheHSM(t *testing.T) {
	ctx := context.Background()
	be := openHSM(t)
	dir := t.TempDir()
	keyPath, logPath := filepath.Join(dir, "audit.log.key"), filepath.Join(dir, "audit.log")

	key, err := audit.OpenOrCreateKey(ctx, be, "pkcs11", keyPath, logPath)
	require.NoError(t, err)
	require.Len(t, key, audit.KeySize)
	again, err := audit.OpenOrCreateKey(ctx, be, "pkcs11", keyPath, logPath)
	require.NoError(t, err)
	assert.Equal(t, key, again, "a second start opens the same key")

	st, err := os.Stat(keyPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	raw, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	for _, form := range [][]byte{key, []byte(hex.EncodeToString(key)), []byte(base64.StdEncoding.EncodeToString(key)), []byte(base64.RawStdEncoding.EncodeToString(key))} {
		assert.False(t, bytes.Contains(raw, form), "the key file holds the chain key in the clear")
	}

	_, err = audit.CreateKey(ctx, be, "pkcs11", keyPath)
	assert.Error(t, err, "an existing key file is never replaced")

	// A log written with the key verifies with the key opened again.
	s, err := audit.Open(audit.Options{Path: logPath, Key: key})
	require.NoError(t, err)
	require.NoError(t, s.Record(ctx, audit.Event{Source: audit.SourceKMIP, Operation: "Create", Result: "success"}))
	require.NoError(t, s.Close())
	rep, err := audit.Verify(logPath, again)
	require.NoError(t, err)
	assert.Nil(t, rep.Problem)
}

func TestKeyFileTampering(t *testing.T) {
	ctx := context.Background()
	be := openHSM(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	_, err := audit.CreateKey(ctx, be, "pkcs11", good)
	require.NoError(t, err)
	other := filepath.Join(dir, "other.key")
	_, err = audit.CreateKey(ctx, be, "pkcs11", other)
	require.NoError(t, err)

	read := func(path string) map[string]any {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		m := map[string]any{}
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}
	flip := func(field string) func(m map[string]any) {
		return func(m map[string]any) {
			b, err := base64.StdEncoding.DecodeString(m[field].(string))
			require.NoError(t, err)
			b[len(b)/2] ^= 1
			m[field] = base64.StdEncoding.EncodeToString(b)
		}
	}
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   error
		text   string
	}{
		{"sealed key flipped", flip("sealed_key"), backend.ErrIntegrity, ""},
		{"tenant key flipped", flip("tenant_key"), backend.ErrIntegrity, ""},
		{"tenant key of another key file", func(m map[string]any) { m["tenant_key"] = read(other)["tenant_key"] }, backend.ErrIntegrity, ""},
		{"another tenant", func(m map[string]any) { m["tenant"] = "acme" }, nil, "is not known"},
		{"unknown version", func(m map[string]any) { m["version"] = 2 }, nil, "is not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := read(good)
			tt.change(m)
			raw, err := json.Marshal(m)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "audit.key")
			require.NoError(t, os.WriteFile(path, raw, 0o600))
			_, err = audit.OpenKey(ctx, be, path)
			require.Error(t, err)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.Contains(t, err.Error(), tt.text)
		})
	}
}

func TestLogWithoutItsKeyIsRefused(t *testing.T) {
	ctx := context.Background()
	be := openHSM(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o600))
	_, err := audit.OpenOrCreateKey(ctx, be, "pkcs11", audit.KeyPath(logPath), logPath)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing, but the log")
	_, err = os.Stat(audit.KeyPath(logPath))
	assert.True(t, os.IsNotExist(err), "no new key may be made for an existing log")
}

func TestReservedTenants(t *testing.T) {
	tests := []struct {
		name     string
		reserved bool
	}{
		{audit.InternalTenant, true}, {"_anything", true}, {"default", false}, {"acme_", false}, {"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.reserved, audit.IsReservedTenant(tt.name), tt.name)
	}
}

// TestKeyFollowsRootRotation: after mkek_label names a new MKEK, the next
// start rewraps the key file's tenant KEK under it, the chain key stays
// the same, and the old MKEK is no longer needed.
func TestKeyFollowsRootRotation(t *testing.T) {
	ctx := context.Background()
	cfg := hsmCfg
	cfg.TokenLabel = "audit-rotate"
	require.NoError(t, pkcs11.Provision(ctx, pkcs11.ProvisionOptions{PKCS11: cfg, SOPIN: "5678", UserPIN: "1234"}))
	dir := t.TempDir()
	keyPath, logPath := filepath.Join(dir, "audit.log.key"), filepath.Join(dir, "audit.log")

	old, err := pkcs11.Open(ctx, cfg)
	require.NoError(t, err)
	key, err := audit.OpenOrCreateKey(ctx, old, "pkcs11", keyPath, logPath)
	require.NoError(t, err)
	require.NoError(t, old.Close())
	before, err := os.ReadFile(keyPath)
	require.NoError(t, err)

	rotated := cfg
	rotated.MKEKLabel = "MKEK-2"
	require.NoError(t, pkcs11.Provision(ctx, pkcs11.ProvisionOptions{PKCS11: rotated, SOPIN: "5678", UserPIN: "1234"}))
	be, err := pkcs11.Open(ctx, rotated)
	require.NoError(t, err)
	defer be.Close()
	again, err := audit.OpenOrCreateKey(ctx, be, "pkcs11", keyPath, logPath)
	require.NoError(t, err)
	assert.Equal(t, key, again)
	after, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	assert.NotEqual(t, before, after, "the key file is rewritten under the new MKEK")
	var kf struct {
		TenantKey []byte `json:"tenant_key"`
	}
	require.NoError(t, json.Unmarshal(after, &kf))
	assert.Contains(t, string(kf.TenantKey), "MKEK-2", "the blob names the MKEK that wrapped it")
	changed, err := audit.RewrapKey(ctx, be, keyPath)
	require.NoError(t, err)
	assert.False(t, changed, "a second start has nothing to rewrap")
}

// notThisOne is a root of trust that opens nothing: the default of a
// Router whose audit key was made on another backend.
type notThisOne struct{ backend.Backend }

func (notThisOne) Open(context.Context, backend.OpenRequest) ([]byte, error) {
	return nil, backend.ErrIntegrity
}

// TestKeyOpensOnItsOwnBackend: a key file made on the HSM opens through a
// Router whose default root of trust is another one (a server that moved
// to backend.types with another default type): the file names its
// backend, and the Router routes by it.
func TestKeyOpensOnItsOwnBackend(t *testing.T) {
	ctx := context.Background()
	hsm := openHSM(t)
	dir := t.TempDir()
	keyPath, logPath := filepath.Join(dir, "audit.log.key"), filepath.Join(dir, "audit.log")
	key, err := audit.OpenOrCreateKey(ctx, hsm, "pkcs11", keyPath, logPath)
	require.NoError(t, err)

	r, err := backend.NewRouter(map[string]backend.Backend{"pkcs11": hsm, "hpcs": notThisOne{}}, "hpcs")
	require.NoError(t, err)
	again, err := audit.OpenOrCreateKey(ctx, r, "hpcs", keyPath, logPath)
	require.NoError(t, err)
	assert.Equal(t, key, again)
}
