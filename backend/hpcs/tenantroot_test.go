package hpcs_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// TestTenantRoot: a tenant with a root key of its own (its root
// reference, backend.WithTenantRoot) has its KEK wrapped by that key, a
// tenant without one by root_key_id; a fresh backend opens both (the
// blob names its root), each depends on its own root only, and a
// rotation keeps each under its own root.
func TestTenantRoot(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	own := e.kms.CreateRootKey("tenant-b-root")
	b := e.open(t)

	keyA, err := b.NewTenantKey(ctx, "tenant-a")
	require.NoError(t, err)
	keyB, err := b.NewTenantKey(backend.WithTenantRoot(ctx, own), "tenant-b")
	require.NoError(t, err)
	ctA, ctB := seal(t, b, keyA, "a"), seal(t, b, keyB, "b")

	opens := func(tk backend.TenantKey, ct []byte, want string) error {
		got, err := open(e.open(t), tk, ct) // a fresh backend: no cached KEK
		if err == nil {
			assert.Equal(t, want, got)
		}
		return err
	}
	require.NoError(t, opens(keyA, ctA, "a"))
	require.NoError(t, opens(keyB, ctB, "b"))

	require.NoError(t, e.kms.Disable(own))
	assert.NoError(t, opens(keyA, ctA, "a"), "tenant-a does not depend on tenant-b's root")
	assert.ErrorIs(t, opens(keyB, ctB, "b"), backend.ErrKeyMissing, "tenant-b's KEK is under its own root")
	require.NoError(t, e.kms.Enable(own))
	require.NoError(t, e.kms.Disable(e.root))
	assert.ErrorIs(t, opens(keyA, ctA, "a"), backend.ErrKeyMissing, "tenant-a's KEK is under root_key_id")
	assert.NoError(t, opens(keyB, ctB, "b"), "tenant-b does not depend on root_key_id")
	require.NoError(t, e.kms.Enable(e.root))

	// A rotation keeps tenant-b under its own root: told the root, the
	// key needs nothing; not told, it would move to root_key_id.
	keyB.Root = own
	need, err := b.NeedsRewrap(keyB)
	require.NoError(t, err)
	assert.False(t, need)
	require.NoError(t, e.kms.Rotate(own))
	re, err := b.RewrapTenantKey(ctx, keyB)
	require.NoError(t, err)
	assert.Equal(t, own, re.Root)
	require.NoError(t, e.kms.Disable(e.root))
	assert.NoError(t, opens(re, ctB, "b"), "rewrapped under its own root, not root_key_id")
	require.NoError(t, e.kms.Enable(e.root))
	need, err = b.NeedsRewrap(backend.TenantKey{TenantID: "tenant-b", Blob: re.Blob})
	require.NoError(t, err)
	assert.True(t, need, "without its root, the key is due to move to root_key_id")

	// Asking for root_key_id itself is the default, not a check.
	_, err = b.NewTenantKey(backend.WithTenantRoot(ctx, e.root), "tenant-c")
	assert.NoError(t, err)
}

// TestTenantRootUnknown: a tenant root the KMS does not have, or cannot
// wrap with, is refused before any KEK is made, naming the tenant and
// the key.
func TestTenantRootUnknown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)
	disabled := e.kms.CreateRootKey("disabled-root")
	require.NoError(t, e.kms.Disable(disabled))
	tests := []struct {
		name, root, detail string
	}{
		{name: "unknown", root: "00000000-0000-0000-0000-000000000000", detail: "is not a key this KMS instance knows"},
		{name: "disabled", root: disabled, detail: "key state 2 (disabled)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.NewTenantKey(backend.WithTenantRoot(ctx, tc.root), "tenant-x")
			require.ErrorIs(t, err, backend.ErrKeyMissing)
			assert.Contains(t, err.Error(), `tenant "tenant-x"`)
			assert.Contains(t, err.Error(), "root key "+tc.root)
			assert.Contains(t, err.Error(), tc.detail)
		})
	}
}
