package integration

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGracefulStop stops a server of its own (its own development
// directory: the shared server holds the lock of its store) with SIGTERM
// while clients are connected: it must exit 0 within
// server.shutdown_timeout and log that it stopped.
func TestGracefulStop(t *testing.T) {
	requireSoftHSM(t)
	adapter, ctl := bin(t, "kmip-adapter"), bin(t, "kmipctl")
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(ctl, dir))

	const shutdownTimeout = 3 * time.Second

	tests := []struct {
		name string
		// stall leaves a request half sent: it is not in flight, so it
		// must not hold up the drain.
		stall bool
	}{
		{name: "idle client connected"},
		{name: "request stalled mid-header", stall: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One process at a time: the store is locked by its server.
			s, err := startServer(adapter, dir, []string{"KMIP_ADAPTER_SERVER_SHUTDOWN_TIMEOUT=" + shutdownTimeout.String()})
			require.NoError(t, err)
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					_, _, _ = s.stop(stopTimeout)
				}
			})

			// A client that has worked and stays connected, idle.
			c := ovhDial(t, s, kmip.V1_4)
			id := ovhCreateAES(t, c, 256)

			if tt.stall {
				conn, err := dialTLS(s, s.clientTLS(t))
				require.NoError(t, err)
				defer conn.Close()
				_, err = conn.Write([]byte{0x42, 0x00, 0x78, 0x01}) // half a header
				require.NoError(t, err)
				time.Sleep(200 * time.Millisecond) // let the server start reading it
			}

			code, took, err := s.stop(stopTimeout)
			stopped = true
			require.NoError(t, err)
			t.Logf("exit %d after SIGTERM in %s", code, took.Round(time.Millisecond))
			assert.Equal(t, 0, code, "exit code after SIGTERM; output:\n%s", s.log.String())
			// A half-sent request is not in flight: neither case waits for
			// the shutdown timeout.
			assert.Less(t, took, shutdownTimeout, "nothing in flight: no need to wait for the shutdown timeout")
			assert.True(t, s.logged(stoppedMessage), "no %q log line; output:\n%s", stoppedMessage, s.log.String())

			// The connections are closed: the idle client's next request fails.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = c.Request(ctx, &payloads.GetRequestPayload{UniqueIdentifier: id})
			assert.Error(t, err, "a request after the server stopped")
		})
	}
}

// TestSecondServerOnSameStore starts a second server on the shared
// server's development directory: the store is locked by the first, so
// the second must exit non-zero at once with one line saying so, and the
// first must go on serving.
func TestSecondServerOnSameStore(t *testing.T) {
	s := mainServer(t)
	cmd := exec.Command(bin(t, "kmip-adapter"), "serve", "--config", filepath.Join(s.dir, "config.yaml"),
		"--listen", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = environ()
	stdout, stderr, err := runSplit(cmd, 20*time.Second)
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "want a non-zero exit, got %v; output:\n%s%s", err, stdout, stderr)
	msg := strings.TrimSpace(string(stderr))
	t.Logf("%s", msg)
	assert.NotContains(t, msg, "\n", "one line")
	assert.Contains(t, msg, "locked")
	assert.Contains(t, msg, s.storePath())

	c := ovhDial(t, s, kmip.V1_4)
	_, err = c.Query().Operations().Exec()
	assert.NoError(t, err, "the first server still serves")
}
