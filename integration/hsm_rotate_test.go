package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// TestHSMRootRotation rotates the development token's root as an operator
// would: a new MKEK on the partition, mkek_label pointing at it, `kmipctl
// hsm rotate` rewrapping the tenant key (run twice: the second run has
// nothing left to do), and every key created before reads back the same
// throughout.
func TestHSMRootRotation(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "rotate")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))

	s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	c := ovhDial(t, s, kmip.V1_4)
	keys := map[string][]byte{}
	for range 5 {
		id := ovhCreateAES(t, c, 256)
		_, material := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		keys[id] = material
	}
	_, err = s.stopCleanly()
	require.NoError(t, err)
	assert.Equal(t, "MKEK", tenantMKEK(t, dir, "default"))
	assert.Equal(t, "MKEK", tenantMKEK(t, dir, ops.RecordKeyTenant), "the record MAC key's KEK")

	// The new MKEK on the partition, beside the old one.
	p := config.Default().Backend.PKCS11
	p.TokenLabel = "kmip-adapter-dev"
	p.MKEKLabel = "MKEK-2"
	p.TKEKCount = 0
	p.SoftHSM2Conf = filepath.Join(dir, "softhsm", "softhsm2.conf")
	p.PIN = config.Secret{File: filepath.Join(dir, "softhsm", "user.pin")}
	require.NoError(t, pkcs11.Provision(context.Background(), pkcs11.ProvisionOptions{PKCS11: p}))

	newRoot := []string{"KMIP_ADAPTER_BACKEND_PKCS11_MKEK_LABEL=MKEK-2"}
	getAll := func() {
		t.Helper()
		s, err := startServer(bin(t, "kmip-adapter"), dir, newRoot)
		require.NoError(t, err)
		c := ovhDial(t, s, kmip.V1_4)
		for id, want := range keys {
			_, got := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
			assert.Equal(t, want, got, "key %s", id)
		}
		_, err = s.stopCleanly()
		require.NoError(t, err)
	}
	getAll() // the server serves under the new root before the rewrap

	progress := filepath.Join(dir, "kmipctl_rotate.prom")
	rotate := func() string {
		t.Helper()
		cmd := exec.Command(bin(t, "kmipctl"), "hsm", "rotate", "--config", filepath.Join(dir, "config.yaml"), "--progress-file", progress)
		cmd.Env = append(environ(), newRoot...)
		out, err := runWithTimeout(cmd, cmdTimeout)
		require.NoError(t, err, "kmipctl hsm rotate\n%s", out)
		return string(out)
	}
	// Two tenant keys: the default tenant's and the record MAC key's
	// (kmip/ops recordkey.go), which a rotation rewraps like any other.
	out := rotate()
	assert.Contains(t, out, "2/2 tenants")
	assert.Contains(t, out, "rewrapped now: 2;")
	assert.Equal(t, "MKEK-2", tenantMKEK(t, dir, "default"))
	assert.Equal(t, "MKEK-2", tenantMKEK(t, dir, ops.RecordKeyTenant))
	prom, err := os.ReadFile(progress)
	require.NoError(t, err, "the progress file for node_exporter's textfile collector")
	for _, line := range []string{
		`kmip_adapter_job_items{job="hsm_rotate",state="total"} 2`,
		`kmip_adapter_job_items{job="hsm_rotate",state="done"} 2`,
		`kmip_adapter_job_items{job="hsm_rotate",state="failed"} 0`,
		`kmip_adapter_job_finished{job="hsm_rotate"} 1`,
	} {
		assert.Contains(t, string(prom), line+"\n")
	}
	// The run's progress is kept in the store, for any operator.
	status, err := runKmipctl(t, "hsm", "rotate", "--status", "--config", filepath.Join(dir, "config.yaml"))
	require.NoError(t, err, status)
	assert.Contains(t, status, "state     done\n")
	assert.Contains(t, status, "tenants   2 of 2 done, 0 failed\n")
	assert.Contains(t, status, `cursor    "default"`)
	out = rotate()
	assert.Contains(t, out, "rewrapped now: 0; already under the configured MKEK: 2;")
	getAll()
}

// tenantMKEK reads the label of the MKEK that wraps a tenant's key, from
// the store (the server must be stopped).
func tenantMKEK(t *testing.T, dir, tenant string) string {
	t.Helper()
	st, err := bbolt.Open(filepath.Join(dir, "data", "store.db"))
	require.NoError(t, err)
	defer st.Close()
	ten, err := st.GetTenant(context.Background(), tenant)
	require.NoError(t, err)
	blob := ten.KeyBlob
	require.GreaterOrEqual(t, len(blob), 2)
	require.Equal(t, byte(2), blob[0], "blob version")
	require.GreaterOrEqual(t, len(blob), 2+int(blob[1]))
	return string(blob[2 : 2+blob[1]])
}
