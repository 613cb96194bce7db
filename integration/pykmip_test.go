package integration

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pykmipDriver is the Python side of the PyKMIP tests: it runs one
// scenario and prints its results as JSON.
const pykmipDriver = "testdata/pykmip_driver.py"

// pyFailure is a step that failed, as the driver reports it.
type pyFailure struct {
	Error  *string `json:"error"`
	Type   string  `json:"type"`
	Status string  `json:"status"`
	Reason string  `json:"reason"`
}

// pyKey is a key that PyKMIP got back from the server.
type pyKey struct {
	UID         string `json:"uid"`
	ObjectType  string `json:"object_type"`
	Algorithm   string `json:"algorithm"`
	Length      int    `json:"length"`
	MaterialHex string `json:"material_hex"`
}

// material decodes the key material, failing the test if it is not hex.
func (k pyKey) material(t testing.TB) []byte {
	t.Helper()
	m, err := hex.DecodeString(k.MaterialHex)
	require.NoError(t, err, "material_hex of %s", k.UID)
	return m
}

// pyLifecycle is the output of the driver's lifecycle scenario.
type pyLifecycle struct {
	Fatal    *pyFailure `json:"fatal"`
	Discover struct {
		pyFailure
		Versions []string `json:"versions"`
	} `json:"discover"`
	Query struct {
		pyFailure
		Operations  []string `json:"operations"`
		ObjectTypes []string `json:"object_types"`
		Vendor      string   `json:"vendor"`
	} `json:"query"`
	Create struct {
		UID string `json:"uid"`
	} `json:"create"`
	Get             pyKey     `json:"get"`
	GetAfterDestroy pyFailure `json:"get_after_destroy"`
}

// pyCreated is the output of the driver's create scenario.
type pyCreated struct {
	Fatal *pyFailure `json:"fatal"`
	Keys  []pyKey    `json:"keys"`
}

// runPyKMIP runs the driver against s with args and decodes its JSON
// output into out. The driver exits 1 after printing a "fatal" result,
// which the caller asserts on.
func runPyKMIP(t testing.TB, s *server, out any, args ...string) {
	t.Helper()
	requirePyKMIP(t)
	_, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	argv := append([]string{pykmipDriver, "--port", port, "--pki", s.pki("")}, args...)
	stdout, stderr, err := runSplit(exec.Command(systemPython, argv...), cmdTimeout)
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", systemPython, argv, err, stdout, stderr)
		}
	}
	require.NoError(t, json.Unmarshal(stdout, out), "driver output: %s\nstderr: %s", stdout, stderr)
}

// TestPyKMIP runs Debian's PyKMIP client through a key's life at every
// protocol version it speaks: discover versions, query, create an AES-256
// key, get it, destroy it, and get it again (which must fail).
func TestPyKMIP(t *testing.T) {
	s := mainServer(t)
	requirePyKMIP(t)

	tests := []struct {
		version string
		// wantQueryOps must be in the operations Query reports.
		wantQueryOps []string
		// destroyedReason is the Result Reason of a Get after Destroy:
		// 1.x has no Object Destroyed reason.
		destroyedReason string
	}{
		{"1.0", []string{"CREATE", "GET", "DESTROY", "QUERY"}, "ITEM_NOT_FOUND"},
		{"1.1", []string{"CREATE", "GET", "DESTROY", "QUERY", "DISCOVER_VERSIONS"}, "ITEM_NOT_FOUND"},
		{"1.2", []string{"CREATE", "GET", "DESTROY", "QUERY", "DISCOVER_VERSIONS"}, "ITEM_NOT_FOUND"},
		{"1.3", []string{"CREATE", "GET", "DESTROY", "QUERY", "DISCOVER_VERSIONS"}, "ITEM_NOT_FOUND"},
		{"1.4", []string{"CREATE", "GET", "DESTROY", "QUERY", "DISCOVER_VERSIONS"}, "ITEM_NOT_FOUND"},
		{"2.0", []string{"CREATE", "GET", "DESTROY", "QUERY", "DISCOVER_VERSIONS"}, "OBJECT_DESTROYED"},
	}
	for _, tt := range tests {
		t.Run("KMIP_"+tt.version, func(t *testing.T) {
			t.Parallel()
			var got pyLifecycle
			runPyKMIP(t, s, &got, "--version", tt.version, "--length", "256", "lifecycle")
			require.Nil(t, got.Fatal, "PyKMIP failed: %+v", got.Fatal)

			assert.Nil(t, got.Discover.Error, "discover versions failed: %+v", got.Discover.pyFailure)
			assert.Contains(t, got.Discover.Versions, tt.version, "DiscoverVersions must list the client's version")
			assert.Subset(t, got.Discover.Versions, []string{"2.0", "1.4", "1.3", "1.2", "1.1", "1.0"})
			assert.IsDecreasing(t, got.Discover.Versions, "newest version first")

			assert.Nil(t, got.Query.Error, "query failed: %+v", got.Query.pyFailure)
			assert.Subset(t, got.Query.Operations, tt.wantQueryOps)
			assert.Contains(t, got.Query.ObjectTypes, "SYMMETRIC_KEY")
			assert.Equal(t, "kmip-adapter", got.Query.Vendor)

			require.NotEmpty(t, got.Create.UID)
			assert.Equal(t, got.Create.UID, got.Get.UID)
			assert.Equal(t, "SYMMETRIC_KEY", got.Get.ObjectType)
			assert.Equal(t, "AES", got.Get.Algorithm)
			assert.Equal(t, 256, got.Get.Length)
			material := got.Get.material(t)
			assert.Len(t, material, 32)
			recordKey(got.Get.UID, material)

			if assert.NotNil(t, got.GetAfterDestroy.Error, "a Get after Destroy must fail") {
				assert.Equal(t, "OPERATION_FAILED", got.GetAfterDestroy.Status)
				assert.Equal(t, tt.destroyedReason, got.GetAfterDestroy.Reason)
			}
		})
	}
}

// createWithPyKMIP creates count AES keys of length bits through PyKMIP
// and returns them as the server handed them back.
func createWithPyKMIP(t testing.TB, s *server, version string, count, length int) []pyKey {
	t.Helper()
	var got pyCreated
	runPyKMIP(t, s, &got, "--version", version, "--count", strconv.Itoa(count), "--length", strconv.Itoa(length), "create")
	require.Nil(t, got.Fatal, "PyKMIP failed: %+v", got.Fatal)
	require.Len(t, got.Keys, count)
	for _, k := range got.Keys {
		m := k.material(t)
		require.Len(t, m, length/8, "key %s", k.UID)
		recordKey(k.UID, m)
	}
	return got.Keys
}
