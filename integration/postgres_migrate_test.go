package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresMigrate moves a single-node environment to PostgreSQL as an
// operator would: keys made on the embedded store, the server stopped,
// `kmipctl store migrate`, `kmipctl dev init --store DSN`, a node on
// PostgreSQL that serves the same keys. The copy is refused while the
// server holds the file, resumes after an interruption (simulated by
// deleting part of the copy), and refuses to overwrite a record that
// differs.
func TestPostgresMigrate(t *testing.T) {
	requireSoftHSM(t)
	base, err := pgBase()
	require.NoError(t, err)
	dir := filepath.Join(suite.tmp, "pg-migrate")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	for _, sub := range []string{"softhsm", "pki"} {
		require.NoError(t, os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(base, sub))))
	}
	out, err := runKmipctl(t, "dev", "init", "--dir", dir, "--listen", "127.0.0.1:0")
	require.NoError(t, err, out)
	boltFile := filepath.Join(dir, "data", "store.db")

	// Keys on the embedded store: plain, active with an attribute, and
	// destroyed.
	single, err := startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	c := ovhDial(t, single, kmip.V1_4)
	usage := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt
	const n = 12
	ids := make([]string, n)
	materials := map[string][]byte{}
	for i := range n {
		created, err := c.Create().AES(256, usage).WithName("migrated-" + string(rune('a'+i))).Exec()
		require.NoError(t, err)
		ids[i] = created.UniqueIdentifier
		_, materials[ids[i]] = ovhGetKey(t, c, ids[i], kmip.KeyFormatTypeRaw)
	}
	_, err = c.Activate(ids[1]).Exec()
	require.NoError(t, err)
	_, err = c.AddAttribute(ids[1], "x-Migrated", "yes").Exec()
	require.NoError(t, err)
	_, err = c.Destroy(ids[2]).Exec()
	require.NoError(t, err)

	pg := startPostgres(t)
	dsn, err := pg.CreateDatabase(context.Background(), "migrated")
	require.NoError(t, err)
	progress := filepath.Join(t.TempDir(), "kmipctl_migrate.prom")
	migrate := func() (string, error) {
		return runKmipctl(t, "store", "migrate", "--from", "bbolt:"+boltFile, "--to", "postgres:"+dsn, "--batch", "5", "--progress-file", progress,
			"--config", filepath.Join(dir, "config.yaml")) // its root of trust verifies the records' MACs
	}

	out, err = migrate()
	require.Error(t, err, "the running server holds the file")
	assert.Contains(t, out, "stop the server that uses it first")
	_, err = single.stopCleanly()
	require.NoError(t, err)

	// Records carry integrity MACs: without the root of trust to verify
	// them, nothing is copied.
	out, err = runKmipctl(t, "store", "migrate", "--from", "bbolt:"+boltFile, "--to", "postgres:"+dsn)
	require.Error(t, err)
	assert.Contains(t, out, "give --config")
	assert.Contains(t, out, "objects  0 copied", "no object is copied")

	// The twelve keys, the store's record MAC marker (ops.MarkNewStore,
	// internal tenant "_store") and its record MAC key (internal tenant
	// "_recordkey", which sorts first: the run above copied its tenant
	// record, then stopped at its object).
	out, err = migrate()
	require.NoError(t, err, out)
	assert.Contains(t, out, "tenants  1 copied, 1 already there")
	assert.Contains(t, out, "objects  14 copied, 0 already there")
	prom, err := os.ReadFile(progress)
	require.NoError(t, err, "the progress file for node_exporter's textfile collector")
	assert.Contains(t, string(prom), `kmip_adapter_job_items{job="store_migrate",state="done"} 14`+"\n")
	assert.Contains(t, string(prom), `kmip_adapter_job_finished{job="store_migrate"} 1`+"\n")
	assert.Contains(t, out, "14 integrity MACs verified through the root of trust, 0 records without a MAC")
	assert.Contains(t, out, "14/14 objects", "the progress line")

	// An interrupted copy holds part of the objects: run again, it copies
	// the rest and checks what is there.
	db := &pgEnv{pg: pg, dsn: dsn}
	_, err = db.conn(t).Exec(context.Background(), "DELETE FROM kmip_objects WHERE id = ANY ($1)", ids[:5])
	require.NoError(t, err)
	out, err = migrate()
	require.NoError(t, err, out)
	assert.Contains(t, out, "tenants  0 copied, 2 already there")
	assert.Contains(t, out, "objects  5 copied, 9 already there")

	// A node on PostgreSQL serves the same keys.
	out, err = runKmipctl(t, "dev", "init", "--dir", dir, "--listen", "127.0.0.1:0", "--store", dsn)
	require.NoError(t, err, out)
	e := &pgEnv{pg: pg, db: "migrated", dsn: dsn, dir: dir}
	node := e.node(t)
	cn := ovhDial(t, node, kmip.V1_4)
	for i, id := range ids {
		if i == 2 {
			bi := ovhResult(t, cn, &payloads.GetRequestPayload{UniqueIdentifier: id})
			assert.Equal(t, kmip.ResultReasonItemNotFound, bi.ResultReason, "the destroyed key stays destroyed: %s", bi.ResultMessage)
			continue
		}
		_, material := ovhGetKey(t, cn, id, kmip.KeyFormatTypeRaw)
		assert.Equal(t, materials[id], material, "key %s after the move", id)
		found, err := cn.Locate().WithName("migrated-" + string(rune('a'+i))).Exec()
		require.NoError(t, err)
		assert.Equal(t, []string{id}, found.UniqueIdentifier)
	}
	attrs, err := cn.GetAttributes(ids[1], kmip.AttributeNameState).Exec()
	require.NoError(t, err)
	require.Len(t, attrs.Attribute, 1)
	assert.Equal(t, kmip.StateActive, attrs.Attribute[0].AttributeValue)

	// A record changed in the target since the copy is not overwritten.
	_, err = db.conn(t).Exec(context.Background(), "UPDATE kmip_objects SET revision = revision + 1 WHERE id = $1", ids[3])
	require.NoError(t, err)
	out, err = migrate()
	require.Error(t, err)
	assert.Contains(t, out, "is in the target and differs (revision")
	assert.Contains(t, out, "refusing to overwrite it")
}
