package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHSMCheck runs `kmipctl hsm check` on the shared server's development
// directory while the server runs, as an operator would: every check of
// the BYOHSM key set passes and the command exits 0.
func TestHSMCheck(t *testing.T) {
	s := mainServer(t)
	cmd := exec.Command(bin(t, "kmipctl"), "hsm", "check", "--config", filepath.Join(s.dir, "config.yaml"))
	cmd.Env = environ()
	stdout, stderr, err := runSplit(cmd, cmdTimeout)
	require.NoError(t, err, "kmipctl hsm check\nstdout:\n%s\nstderr:\n%s", stdout, stderr)

	rows := map[string]string{} // first column -> whole row
	for _, line := range strings.Split(string(stdout), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	want := []string{"MKEK", "SKEY", "IKEY", "TKEK-01", "TKEK-10"}
	for _, key := range want {
		if assert.Contains(t, rows, key, "no row for %s in:\n%s", key, stdout) {
			assert.Contains(t, strings.Fields(rows[key]), "ok", rows[key])
		}
	}
	assert.Contains(t, string(stdout), "checks passed")
}
