package integration

import (
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kmipctl runs `kmipctl ARGS... --config DIR/config.yaml --addr ADDR`
// against the shared server, as an operator diagnosing it would, and
// returns its standard output and error.
func kmipctl(t *testing.T, s *server, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	argv := append(append([]string{}, args...), "--config", filepath.Join(s.dir, "config.yaml"), "--addr", s.addr)
	cmd := exec.Command(bin(t, "kmipctl"), argv...)
	cmd.Env = environ()
	out, errOut, err := runSplit(cmd, cmdTimeout)
	return string(out), string(errOut), err
}

// mustKmipctl is kmipctl that fails the test when the command fails.
func mustKmipctl(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, errOut, err := kmipctl(t, s, args...)
	require.NoError(t, err, "kmipctl %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}

// TestKmipctlKMIPCommands drives a key through its life with `kmipctl
// kmip`: create with a name and a custom attribute, get, locate by name,
// attributes, the refusal to destroy an Active key, revoke, destroy.
func TestKmipctlKMIPCommands(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	name := "kmipctl-" + randomHex(t, 8)

	id := strings.TrimSpace(mustKmipctl(t, s, "kmip", "create", "--name", name, "--attr", "x-Owner=ops team"))
	require.NotEmpty(t, id)
	assert.NotContains(t, id, "\n", "create prints the identifier alone")

	text := mustKmipctl(t, s, "kmip", "get", id)
	assert.Contains(t, text, id)
	assert.Contains(t, text, "AES")
	assert.Contains(t, text, "32 bytes, SHA-256 ")

	var got struct {
		UniqueIdentifier string `json:"unique_identifier"`
		ObjectType       string `json:"object_type"`
		Length           int    `json:"cryptographic_length"`
		Bytes            int    `json:"bytes"`
		SHA256           string `json:"sha256"`
		Material         string `json:"material"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustKmipctl(t, s, "kmip", "get", id, "--json", "--show-material")), &got))
	assert.Equal(t, id, got.UniqueIdentifier)
	assert.Equal(t, "SymmetricKey", got.ObjectType)
	assert.Equal(t, 256, got.Length)
	assert.Equal(t, 32, got.Bytes)
	material, err := hex.DecodeString(got.Material)
	require.NoError(t, err)
	require.Len(t, material, 32)
	recordKey(id, material) // the at-rest and log checks look for it too
	assert.NotContains(t, text, got.Material, "the material is printed only when asked for")

	assert.Equal(t, id, strings.TrimSpace(mustKmipctl(t, s, "kmip", "locate", "--name", name)))

	attrs := mustKmipctl(t, s, "kmip", "attributes", id, "State", "x-Owner", "Name")
	assert.Regexp(t, `(?m)^State\s+PreActive$`, attrs)
	assert.Regexp(t, `(?m)^x-Owner\s+ops team$`, attrs)
	assert.Contains(t, attrs, name)

	var list []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustKmipctl(t, s, "kmip", "attributes", id, "--json")), &list))
	names := map[string]string{}
	for _, a := range list {
		names[a.Name] = a.Value
	}
	assert.Equal(t, "AES", names["Cryptographic Algorithm"])
	assert.Equal(t, "Encrypt|Decrypt", names["Cryptographic Usage Mask"])
	assert.Contains(t, names, "Initial Date")

	// KMIP 2.1 reads the same attributes with Attribute References.
	attrs21 := mustKmipctl(t, s, "kmip", "attributes", id, "State", "x-Owner", "--version", "2.1")
	assert.Regexp(t, `(?m)^x-Owner\s+ops team$`, attrs21)

	mustKmipctl(t, s, "kmip", "activate", id)
	_, errOut, err := kmipctl(t, s, "kmip", "destroy", id)
	require.Error(t, err, "an Active key cannot be destroyed")
	assert.Contains(t, errOut, "Destroy")
	assert.Contains(t, errOut, "Active", "the server's Result Message reaches the operator")

	mustKmipctl(t, s, "kmip", "revoke", id, "--reason", "CessationOfOperation", "--message", "test over")
	mustKmipctl(t, s, "kmip", "destroy", id)
	assert.Regexp(t, `(?m)^State\s+Destroyed$`, mustKmipctl(t, s, "kmip", "attributes", id, "State"))
	_, errOut, err = kmipctl(t, s, "kmip", "get", id)
	require.Error(t, err, "a destroyed key has no material")
	assert.Contains(t, errOut, "Get: OperationFailed")
}

func TestKmipctlKMIPQueryAndDiscover(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	assert.Equal(t, "2.1 2.0 1.4 1.3 1.2 1.1 1.0", strings.TrimSpace(mustKmipctl(t, s, "kmip", "discover")))
	q := mustKmipctl(t, s, "kmip", "query")
	assert.Regexp(t, `(?m)^Vendor Identification\s+kmip-adapter`, q)
	assert.Regexp(t, `(?m)^Operations\s+.*\bCreate\b.*\bGet\b`, q)
	assert.Regexp(t, `(?m)^TLS\s+TLS 1\.[23] `, q)
}

// TestKmipctlBench runs the load generator briefly: every workload it
// runs reports operations, none failed, and --json is machine-readable.
func TestKmipctlBench(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	out, errOut, err := kmipctl(t, s, "bench", "--workload", "get,create,vcenter", "--conns", "4",
		"--duration", "2s", "--keys", "16", "--json", "--client", "vcenter")
	require.NoError(t, err, "kmipctl bench\nstdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, errOut, "preparing", "progress goes to standard error")

	var rep struct {
		Target  string `json:"target"`
		TLS     string `json:"tls"`
		Results []struct {
			Workload    string   `json:"workload"`
			KMIPVersion string   `json:"kmip_version"`
			Conns       int      `json:"conns"`
			Ops         int64    `json:"ops"`
			Requests    int64    `json:"requests"`
			OpsPerSec   float64  `json:"ops_per_s"`
			Errors      int64    `json:"errors"`
			Samples     []string `json:"error_samples"`
			SetupError  string   `json:"setup_error"`
			ClientCPU   float64  `json:"client_cpu_us_per_op"`
			Latency     struct {
				P50, P90, P99, Max float64
			} `json:"latency_ms"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "bench --json:\n%s", out)
	assert.Equal(t, s.addr, rep.Target)
	assert.NotEmpty(t, rep.TLS)
	require.Len(t, rep.Results, 3, "one run per workload")
	for _, r := range rep.Results {
		assert.Empty(t, r.SetupError, "%s/%d", r.Workload, r.Conns)
		assert.Positive(t, r.Ops, "%s/%d ran operations", r.Workload, r.Conns)
		assert.Positive(t, r.OpsPerSec, "%s/%d throughput", r.Workload, r.Conns)
		assert.Zero(t, r.Errors, "%s/%d errors: %v", r.Workload, r.Conns, r.Samples)
		assert.Positive(t, r.Latency.P50, "%s/%d p50", r.Workload, r.Conns)
		assert.LessOrEqual(t, r.Latency.P50, r.Latency.P99)
		assert.LessOrEqual(t, r.Latency.P99, r.Latency.Max)
		assert.Positive(t, r.ClientCPU, "%s/%d the load generator's own CPU per operation", r.Workload, r.Conns)
	}
	assert.Equal(t, "1.4", rep.Results[0].KMIPVersion)
	assert.Equal(t, "1.1", rep.Results[2].KMIPVersion, "the vCenter conversation is in KMIP 1.1")
	assert.Equal(t, rep.Results[2].Ops*6, rep.Results[2].Requests, "six messages per vCenter conversation")
}
