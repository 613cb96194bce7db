package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresAuditHeadInStore: a node on PostgreSQL checkpoints its
// audit log's chain head in the database (and on stop), any operator
// lists the heads, and `kmipctl audit verify` finds records cut off the
// log's end against the stored head, without a head noted by hand.
func TestPostgresAuditHeadInStore(t *testing.T) {
	e := newPGEnv(t, "auditheads")
	cfg := filepath.Join(e.dir, "config.yaml")
	logPath := filepath.Join(e.dir, "audit-a", "audit.log")
	s, err := startServer(bin(t, "kmip-adapter"), e.dir, []string{"KMIP_ADAPTER_AUDIT_PATH=" + logPath})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _ = s.stopCleanly()
		}
	})
	c := ovhDial(t, s, kmip.V1_4)
	for i := 0; i < 5; i++ {
		ovhCreateAES(t, c, 256)
	}
	// While the node runs, its head is in the store within a second.
	headLine := regexp.MustCompile(`(?m)^([0-9a-f]{32})\s+\S+.*\s+(\d+):([0-9a-f]{64})\s`)
	var listed []string
	require.Eventually(t, func() bool {
		out, err := runKmipctl(t, "audit", "heads", "--config", cfg)
		listed = headLine.FindStringSubmatch(out)
		return err == nil && listed != nil && listed[2] != "1"
	}, 5*time.Second, 100*time.Millisecond, "no chain head stored while the node runs")
	_, err = s.stopCleanly()
	require.NoError(t, err)
	stopped = true

	out, err := runKmipctl(t, "audit", "verify", "--config", cfg, logPath)
	require.NoError(t, err, out)
	head := regexp.MustCompile(`(?m)^head      (\d+:[0-9a-f]{64})$`).FindStringSubmatch(out)
	require.NotNil(t, head, out)
	assert.Contains(t, out, "stored    "+head[1]+" (log "+listed[1], "the head stored at stop is the log's last record")
	assert.Contains(t, out, "the chain is intact")

	// Cut the last three records: the chain that is left is intact, and
	// only the stored head shows the cut.
	raw, err := os.ReadFile(logPath)
	require.NoError(t, err)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty string after the last newline
	require.Greater(t, len(lines), 5)
	require.NoError(t, os.WriteFile(logPath, bytes.Join(lines[:len(lines)-3], nil), 0o600))
	out, err = runKmipctl(t, "audit", "verify", "--config", cfg, logPath)
	require.Error(t, err, "a cut log passed against the stored head:\n%s", out)
	assert.Contains(t, out, "BROKEN")
	assert.Regexp(t, `the log ends at record \d+, but record \d+ was noted as its head: records were cut off the end`, out)
	out, err = runKmipctl(t, "audit", "verify", "--no-stored-head", "--config", cfg, logPath)
	require.NoError(t, err, "without a head the cut is invisible:\n%s", out)
}
