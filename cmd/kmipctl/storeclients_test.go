package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
	"github.com/kmip-adapter/kmip-adapter/store/postgres"
	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
)

// TestCopyClients: `store migrate` carries the registered clients over,
// keeps one already there, and refuses one that names another
// certificate.
func TestCopyClients(t *testing.T) {
	ctx := context.Background()
	src, dst := migrateStores(t, "copyclients")

	tn := &store.Tenant{ID: "alpha", Backend: "pkcs11", KeyBlob: []byte{1}, TenantSettings: store.TenantSettings{Status: store.TenantEnabled}}
	require.NoError(t, src.PutTenant(ctx, tn))
	c1 := &store.Client{TenantID: "alpha", Name: "c1", Enabled: true, Fingerprint: "sha256:01", Credential: &store.Credential{Username: "u", Hash: "h"}}
	c2 := &store.Client{TenantID: "alpha", Name: "c2", Match: store.MatchRule{SubjectCN: "array"}}
	require.NoError(t, src.PutClient(ctx, c1))
	require.NoError(t, src.PutClient(ctx, c2))
	require.NoError(t, copyTenant(ctx, src, dst, "alpha", &migrateStats{}))

	n, err := copyClients(ctx, src, dst)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	got, err := dst.GetClient(ctx, "alpha", "c1")
	require.NoError(t, err)
	assert.Equal(t, c1.Credential, got.Credential)
	assert.True(t, got.Enabled)
	gotT, err := dst.GetTenant(ctx, "alpha")
	require.NoError(t, err)
	assert.Equal(t, tn.TenantSettings, gotT.TenantSettings, "tenant settings go with the tenant")

	n, err = copyClients(ctx, src, dst)
	require.NoError(t, err, "a second run keeps what the first copied")
	assert.Zero(t, n)

	got.Fingerprint = "sha256:02"
	require.NoError(t, dst.PutClient(ctx, got))
	_, err = copyClients(ctx, src, dst)
	assert.ErrorContains(t, err, "another certificate or rule")
}

// TestCopyAuditHeads: `store migrate` carries the audit chain heads over,
// and keeps a head a node already wrote to the target.
func TestCopyAuditHeads(t *testing.T) {
	ctx := context.Background()
	src, dst := migrateStores(t, "copyheads")

	for _, c := range []*store.Checkpoint{
		{Kind: store.CheckpointAuditHead, ID: "log-a", Node: "n1", Data: []byte(`{"seq":10,"mac":"aa"}`)},
		{Kind: store.CheckpointAuditHead, ID: "log-b", Node: "n1", Data: []byte(`{"seq":20,"mac":"bb"}`)},
		{Kind: store.CheckpointJob, ID: "hsm_rotate", Node: "ctl", Data: []byte(`{"state":"done"}`)},
	} {
		require.NoError(t, src.PutCheckpoint(ctx, c))
	}
	require.NoError(t, dst.PutCheckpoint(ctx, &store.Checkpoint{Kind: store.CheckpointAuditHead, ID: "log-b", Node: "n2", Data: []byte(`{"seq":25,"mac":"cc"}`)}))
	n, err := copyAuditHeads(ctx, src, dst)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	a, err := dst.GetCheckpoint(ctx, store.CheckpointAuditHead, "log-a")
	require.NoError(t, err)
	assert.JSONEq(t, `{"seq":10,"mac":"aa"}`, string(a.Data))
	b, err := dst.GetCheckpoint(ctx, store.CheckpointAuditHead, "log-b")
	require.NoError(t, err)
	assert.Equal(t, "n2", b.Node, "the target's own head is kept")
	_, err = dst.GetCheckpoint(ctx, store.CheckpointJob, "hsm_rotate")
	assert.ErrorIs(t, err, store.ErrNotFound, "job progress is the source's own")
	n, err = copyAuditHeads(ctx, src, dst)
	require.NoError(t, err)
	assert.Zero(t, n, "a second run copies nothing again")
}

// migrateStores returns what `store migrate` copies between: an empty
// bbolt store and an empty PostgreSQL schema of a private server.
func migrateStores(t *testing.T, schema string) (*bbolt.Store, *postgres.Store) {
	t.Helper()
	pg, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("KMIP_INTEGRATION_REQUIRED") != "1" {
		t.Skipf("%v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	dsn, err := pg.CreateSchema(context.Background(), schema)
	require.NoError(t, err)
	dst, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	src, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = src.Close() })
	return src, dst
}
