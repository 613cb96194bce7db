package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

func registry(t *testing.T, s store.Store) store.Registry {
	t.Helper()
	r, ok := store.As[store.Registry](s)
	require.True(t, ok, "%T does not implement store.Registry", s)
	return r
}

// serialChanges runs fn and asserts that RegistrySerial moved.
func serialChanges(t *testing.T, r store.Registry, what string, fn func()) {
	t.Helper()
	before, err := r.RegistrySerial(context.Background())
	require.NoError(t, err)
	fn()
	after, err := r.RegistrySerial(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, before, after, "RegistrySerial did not change on %s", what)
}

func testRegistryTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := registry(t, s)
	list, err := r.ListTenants(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)

	settings := store.TenantSettings{
		Status: store.TenantEnabled, Root: "MKEK-2",
		Policy: store.TenantPolicy{
			ActivateOnCreate: true, AllowNoClientAuthEKU: true, RequireCredential: true,
			AllowedOperations: []string{"Get", "Locate"},
		},
		TrustedCAs: []string{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
	}
	b := &store.Tenant{ID: "tenant-b", Backend: "pkcs11", KeyBlob: []byte{1}, TenantSettings: settings}
	a := &store.Tenant{ID: "tenant-a", Backend: "hpcs", KeyBlob: []byte{2}}
	serialChanges(t, r, "tenant create", func() { require.NoError(t, s.PutTenant(ctx, b)) })
	require.NoError(t, s.PutTenant(ctx, a))

	got, err := s.GetTenant(ctx, "tenant-b")
	require.NoError(t, err)
	assertTenant(t, b, got)
	list, err = r.ListTenants(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assertTenant(t, a, list[0])
	assertTenant(t, b, list[1])

	// Settings change with an update, and the key blob stays.
	b.Status = store.TenantDisabled
	b.Policy.AllowedOperations = nil
	serialChanges(t, r, "tenant update", func() { require.NoError(t, s.PutTenant(ctx, b)) })
	got, err = s.GetTenant(ctx, "tenant-b")
	require.NoError(t, err)
	assertTenant(t, b, got)

	// Deleting takes the tenant's clients with it.
	require.NoError(t, r.PutClient(ctx, &store.Client{TenantID: "tenant-b", Name: "c1", Enabled: true, Fingerprint: "sha256:01"}))
	serialChanges(t, r, "tenant delete", func() { require.NoError(t, r.DeleteTenant(ctx, "tenant-b")) })
	_, err = s.GetTenant(ctx, "tenant-b")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = r.GetClient(ctx, "tenant-b", "c1")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, r.DeleteTenant(ctx, "tenant-b"), store.ErrNotFound)
	// The fingerprint is free again.
	require.NoError(t, r.PutClient(ctx, &store.Client{TenantID: "tenant-a", Name: "c1", Fingerprint: "sha256:01"}))
}

func testRegistryClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := registry(t, s)
	require.ErrorIs(t, r.PutClient(ctx, &store.Client{TenantID: "nobody", Name: "c"}), store.ErrNotFound, "a client needs its tenant")
	for _, id := range []string{"tenant-a", "tenant-b"} {
		require.NoError(t, s.PutTenant(ctx, &store.Tenant{ID: id, Backend: "pkcs11", TenantSettings: store.TenantSettings{Status: store.TenantEnabled}}))
	}

	vc := &store.Client{
		TenantID: "tenant-a", Name: "vcenter", Enabled: true, Fingerprint: "sha256:aa",
		Credential: &store.Credential{Username: "vc", Hash: "pbkdf2-sha256$1$c2FsdA$a2V5"},
	}
	before := time.Now()
	serialChanges(t, r, "client create", func() { require.NoError(t, r.PutClient(ctx, vc)) })
	assert.Equal(t, uint64(1), vc.Revision)
	assertBetween(t, vc.CreatedAt, before, time.Now())
	arrays := &store.Client{TenantID: "tenant-b", Name: "arrays", Enabled: true, Match: store.MatchRule{Issuer: "CN=array CA", SubjectCN: "ontap"}}
	require.NoError(t, r.PutClient(ctx, arrays))
	// The same name in another tenant is another client.
	other := &store.Client{TenantID: "tenant-b", Name: "vcenter", Match: store.MatchRule{SAN: "vc.example.com"}}
	require.NoError(t, r.PutClient(ctx, other))

	got, err := r.GetClient(ctx, "tenant-a", "vcenter")
	require.NoError(t, err)
	assertClient(t, vc, got)

	require.ErrorIs(t, r.PutClient(ctx, &store.Client{TenantID: "tenant-a", Name: "vcenter"}), store.ErrExists, "name taken")
	require.ErrorIs(t, r.PutClient(ctx, &store.Client{TenantID: "tenant-b", Name: "thief", Fingerprint: "sha256:aa"}), store.ErrExists,
		"a fingerprint maps to one client, in every tenant")

	all, err := r.ListClients(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, []string{"tenant-a/vcenter", "tenant-b/arrays", "tenant-b/vcenter"},
		[]string{all[0].TenantID + "/" + all[0].Name, all[1].TenantID + "/" + all[1].Name, all[2].TenantID + "/" + all[2].Name})
	onlyB, err := r.ListClients(ctx, "tenant-b")
	require.NoError(t, err)
	require.Len(t, onlyB, 2)
	assertClient(t, arrays, onlyB[0])

	// Update with the right revision, then a stale one.
	stale := *vc
	time.Sleep(tick)
	vc.Enabled = false
	serialChanges(t, r, "client update", func() { require.NoError(t, r.PutClient(ctx, vc)) })
	assert.Equal(t, uint64(2), vc.Revision)
	assert.True(t, vc.UpdatedAt.After(stale.UpdatedAt))
	got, err = r.GetClient(ctx, "tenant-a", "vcenter")
	require.NoError(t, err)
	assertClient(t, vc, got)
	require.ErrorIs(t, r.PutClient(ctx, &stale), store.ErrConflict)
	require.ErrorIs(t, r.PutClient(ctx, &store.Client{TenantID: "tenant-a", Name: "ghost", Revision: 3}), store.ErrNotFound)

	serialChanges(t, r, "client delete", func() { require.NoError(t, r.DeleteClient(ctx, "tenant-a", "vcenter")) })
	_, err = r.GetClient(ctx, "tenant-a", "vcenter")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, r.DeleteClient(ctx, "tenant-a", "vcenter"), store.ErrNotFound)
	got, err = r.GetClient(ctx, "tenant-b", "vcenter")
	require.NoError(t, err, "the other tenant's client of the same name stays")
	assertClient(t, other, got)
}

func assertClient(t *testing.T, want, got *store.Client) {
	t.Helper()
	require.NotNil(t, got)
	assert.Equal(t, want.TenantID, got.TenantID, "TenantID")
	assert.Equal(t, want.Name, got.Name, "Name")
	assert.Equal(t, want.Enabled, got.Enabled, "Enabled")
	assert.Equal(t, want.Fingerprint, got.Fingerprint, "Fingerprint")
	assert.Equal(t, want.Match, got.Match, "Match")
	assert.Equal(t, want.Credential, got.Credential, "Credential")
	assert.Equal(t, want.Revision, got.Revision, "Revision")
	assert.WithinDuration(t, want.CreatedAt, got.CreatedAt, precision, "CreatedAt")
	assert.WithinDuration(t, want.UpdatedAt, got.UpdatedAt, precision, "UpdatedAt")
}
