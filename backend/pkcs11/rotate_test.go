package pkcs11

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// rotateTokens numbers the tokens TestRotation makes (go test -count=N).
var rotateTokens atomic.Int32

// v1Blob makes a tenant key blob of version 1 (made before blobs named
// their MKEK) under the MKEK of b's configuration.
func v1Blob(t *testing.T, b *Backend, tenantID string) backend.TenantKey {
	t.Helper()
	m := b.members[0]
	var blob []byte
	err := m.withSession(context.Background(), func(s pkcs11.SessionHandle) error {
		mkek, err := m.key(s, mkekSpec(m.cfg.MKEKLabel))
		require.NoError(t, err)
		skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
		require.NoError(t, err)
		h, err := m.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, newKeyTemplate())
		require.NoError(t, err)
		defer func() { _ = m.mod.DestroyObject(s, h) }()
		wrapped, err := m.mod.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech.kwp, nil)}, mkek.h, h)
		require.NoError(t, err)
		blob = append([]byte{0x01, 0x00, byte(len(wrapped))}, wrapped...)
		mac, err := m.mac(s, skey, macInput(1, tenantID, blob))
		require.NoError(t, err)
		blob = append(blob, mac...)
		return nil
	})
	require.NoError(t, err)
	return backend.TenantKey{TenantID: tenantID, Blob: blob}
}

// TestRotation moves a token's tenant keys from MKEK to MKEK-2: keys of
// both blob versions keep opening during the rotation, a rewrap keeps the
// KEK (what was sealed before opens after), is idempotent, and refuses a
// tampered blob.
func TestRotation(t *testing.T) {
	requireSoftHSM2(t)
	cfg := testCfg
	cfg.TokenLabel = fmt.Sprintf("kmip-test-rotate-%d", rotateTokens.Add(1))
	cfg.TKEKCount = 1
	ctx := context.Background()
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: cfg, SOPIN: testSOPIN, UserPIN: testUserPIN}))
	newMKEK := cfg
	newMKEK.MKEKLabel = "MKEK-2"
	newMKEK.TKEKCount = 0
	// Provision makes what is missing: the new MKEK only.
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: newMKEK, UserPIN: testUserPIN}))

	before := openTest(t, cfg)
	v2 := backend.TenantKey{TenantID: "tenant-v2"}
	var err error
	v2, err = before.NewTenantKey(ctx, v2.TenantID)
	require.NoError(t, err)
	v1 := v1Blob(t, before, "tenant-v1")
	aad := []byte("uid=rotate")
	sealed := map[string][]byte{}
	for _, k := range []backend.TenantKey{v1, v2} {
		ct, err := before.Seal(ctx, backend.SealRequest{Key: k, Plaintext: []byte("material of " + k.TenantID), AdditionalData: aad})
		require.NoError(t, err)
		sealed[k.TenantID] = ct
	}
	require.NoError(t, before.Close())

	// The rotation: mkek_label is the new MKEK, mkek_v1_label the old.
	rot := cfg
	rot.MKEKLabel, rot.MKEKV1Label = "MKEK-2", "MKEK"
	b := openTest(t, rot)
	for _, k := range []backend.TenantKey{v1, v2} {
		t.Run(k.TenantID, func(t *testing.T) {
			need, err := b.NeedsRewrap(k)
			require.NoError(t, err)
			assert.True(t, need)
			// Still opens before its rewrap.
			pt, err := b.Open(ctx, backend.OpenRequest{Key: k, Ciphertext: sealed[k.TenantID], AdditionalData: aad})
			require.NoError(t, err)
			assert.Equal(t, "material of "+k.TenantID, string(pt))

			re, err := b.RewrapTenantKey(ctx, k)
			require.NoError(t, err)
			assert.NotEqual(t, k.Blob, re.Blob)
			blob, err := parseTenantKey(re.Blob)
			require.NoError(t, err)
			assert.Equal(t, "MKEK-2", blob.mkek)
			need, err = b.NeedsRewrap(re)
			require.NoError(t, err)
			assert.False(t, need)
			again, err := b.RewrapTenantKey(ctx, re)
			require.NoError(t, err)
			assert.Equal(t, re.Blob, again.Blob, "a rewrapped key is left as it is")

			// Same KEK: what was sealed before opens with the new blob.
			pt, err = b.Open(ctx, backend.OpenRequest{Key: re, Ciphertext: sealed[k.TenantID], AdditionalData: aad})
			require.NoError(t, err)
			assert.Equal(t, "material of "+k.TenantID, string(pt))

			// A tampered blob is refused, not rewrapped.
			bad := backend.TenantKey{TenantID: k.TenantID, Blob: bytes.Clone(k.Blob)}
			bad.Blob[len(bad.Blob)-1] ^= 1
			_, err = b.RewrapTenantKey(ctx, bad)
			require.ErrorIs(t, err, backend.ErrIntegrity)
			_, err = b.RewrapTenantKey(ctx, backend.TenantKey{TenantID: "other", Blob: k.Blob})
			require.ErrorIs(t, err, backend.ErrIntegrity)
		})
	}

	// Once every key is rewrapped the old MKEK can go: a new backend
	// without mkek_v1_label opens the rewrapped keys.
	destroyObject(t, cfg, pkcs11.CKO_SECRET_KEY, "MKEK")
	after := rot
	after.MKEKV1Label = ""
	b2 := openTest(t, after)
	_, err = b2.Open(ctx, backend.OpenRequest{Key: v2, Ciphertext: sealed[v2.TenantID], AdditionalData: aad})
	require.ErrorIs(t, err, backend.ErrKeyMissing, "a key not rewrapped needs the old MKEK")
}

// policyTokens numbers the tokens TestCheckReportsUnprotectedKeys makes.
var policyTokens atomic.Int32

// TestCheckReportsUnprotectedKeys: an MKEK that could leave the HSM (not
// sensitive, extractable) fails the check, which says how to fix it.
func TestCheckReportsUnprotectedKeys(t *testing.T) {
	requireSoftHSM2(t)
	cfg := testCfg
	cfg.TokenLabel = fmt.Sprintf("kmip-test-policy-%d", policyTokens.Add(1))
	cfg.TKEKCount = 0
	ctx := context.Background()
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: cfg, SOPIN: testSOPIN, UserPIN: testUserPIN}))
	destroyObject(t, cfg, pkcs11.CKO_SECRET_KEY, cfg.MKEKLabel)
	mod, s := adminSession(t, cfg)
	_, err := mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, cfg.MKEKLabel),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
	})
	require.NoError(t, err)

	b := openTest(t, cfg)
	results := b.Check(ctx)
	require.NotEmpty(t, results)
	mkek := results[0]
	assert.Equal(t, "MKEK", mkek.Name)
	assert.False(t, mkek.OK)
	assert.Contains(t, mkek.Detail, "CKA_SENSITIVE is false")
	assert.Contains(t, mkek.Detail, "CKA_EXTRACTABLE is true")
	assert.Contains(t, mkek.Detail, "fix: set CKA_EXTRACTABLE to false")
	for _, r := range results[1:3] { // SKEY, IKEY as Provision made them
		assert.True(t, r.OK, "%s: %s", r.Name, r.Detail)
	}
	// The envelope refuses to use it.
	_, err = b.NewTenantKey(ctx, "t")
	require.ErrorIs(t, err, backend.ErrKeyMissing)
}
