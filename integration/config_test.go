package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validConfig is a configuration that passes validation; %[1]s is a
// directory for its (absent) files, %[2]s more lines of the server section.
const validConfig = `server:
  listen: 127.0.0.1:0
%[2]s
tls:
  cert_file: %[1]s/server.crt
  key_file: %[1]s/server.key
  client_ca_file: %[1]s/ca.crt
backend:
  type: pkcs11
  pkcs11:
    module: /usr/lib/softhsm/libsofthsm2.so
    token_label: integration
    pin:
      file: %[1]s/user.pin
store:
  type: bbolt
  path: %[1]s/store.db
log:
  format: json
`

// TestConfigErrors starts `kmip-adapter serve` with a bad setting in the
// file, the environment or a flag: it must exit non-zero at once with one
// line that names the key, and print no usage text.
func TestConfigErrors(t *testing.T) {
	adapter := bin(t, "kmip-adapter")
	t.Parallel()

	tests := []struct {
		name   string
		server string   // lines added to the server section of the file
		env    []string // added to the environment
		args   []string // added to the command line
		want   string   // the key the error must name
	}{
		{name: "unknown key in the file", server: "  lisen: x", want: `"server.lisen"`},
		{name: "not an integer", server: "  max_connections: abc", want: "server.max_connections"},
		{name: "not a duration", server: "  read_timeout: soon", want: "server.read_timeout"},
		{name: "out of range", server: "  max_message_size: 12", want: "server.max_message_size"},
		{name: "bad listen from the environment", env: []string{"KMIP_ADAPTER_SERVER_LISTEN=bad"}, want: "server.listen"},
		{name: "bad integer from the environment", env: []string{"KMIP_ADAPTER_SERVER_MAX_CONNECTIONS=many"}, want: "server.max_connections"},
		{name: "bad listen flag", args: []string{"--listen", "nowhere"}, want: "server.listen"},
		{name: "bad log level flag", args: []string{"--log-level", "loud"}, want: "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(validConfig, dir, tt.server)), 0o600))

			cmd := exec.Command(adapter, append([]string{"serve", "--config", path}, tt.args...)...)
			cmd.Env = append(environ(), tt.env...)
			stdout, stderr, err := runSplit(cmd, cmdTimeout)
			var exitErr *exec.ExitError
			require.True(t, errors.As(err, &exitErr), "want a non-zero exit, got %v; stderr:\n%s", err, stderr)
			assert.NotZero(t, exitErr.ExitCode())

			msg := strings.TrimSpace(string(stderr))
			assert.Empty(t, strings.TrimSpace(string(stdout)), "nothing on stdout (no usage text)")
			assert.NotContains(t, msg, "\n", "one line")
			assert.Contains(t, msg, tt.want)
			assert.NotContains(t, msg, "Usage:")
			t.Logf("%s", msg)
		})
	}
}
