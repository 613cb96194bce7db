package integration

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
)

// operableServer starts a server of its own (its own development
// directory) with the operations listener on a free port, and returns it
// with that listener's address.
func operableServer(t *testing.T) (*server, string) {
	t.Helper()
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	s, err := startServer(bin(t, "kmip-adapter"), dir, nil, "--metrics-listen", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = s.stopCleanly() })
	var addr string
	require.Eventually(t, func() bool {
		for _, l := range s.log.entries() {
			if l["message"] == "metrics listener ready" {
				addr, _ = l["addr"].(string)
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no metrics listener ready line")
	return s, addr
}

// scrape reads the Prometheus text exposition into "name{labels}" -> value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return out
}

func TestMetricsCountWhatClientsDid(t *testing.T) {
	t.Parallel()
	s, addr := operableServer(t)
	c := ovhDial(t, s, kmip.V1_4)
	for i := 0; i < 3; i++ {
		id := ovhCreateAES(t, c, 256)
		if i < 2 {
			_, err := c.Get(id).Exec()
			require.NoError(t, err)
		}
	}
	bi := ovhResult(t, c, &payloads.GetRequestPayload{UniqueIdentifier: "no-such-object"})
	require.Equal(t, kmip.ResultStatusOperationFailed, bi.ResultStatus)

	m := scrape(t, addr)
	series := func(op, result string) string {
		return fmt.Sprintf(`kmip_adapter_requests_total{operation=%q,result=%q,tenant="default",version="1.4"}`, op, result)
	}
	assert.Equal(t, 3.0, m[series("Create", "success")])
	assert.Equal(t, 2.0, m[series("Get", "success")])
	assert.Equal(t, 1.0, m[series("Get", "ItemNotFound")])
	assert.Equal(t, 1.0, m["kmip_adapter_connections_open"], "the client's connection is open")
	assert.GreaterOrEqual(t, m["kmip_adapter_connections_total"], 1.0)
	assert.Equal(t, 3.0, m[`kmip_adapter_request_duration_seconds_count{operation="Create"}`])
	// The server's own calls at start: it made the store's record MAC key
	// (one CreateObject, one Seal) and opened it (one Open); see
	// kmip/ops recordkey.go.
	assert.Equal(t, 3.0+1, m[`kmip_adapter_store_call_duration_seconds_count{method="CreateObject"}`])
	assert.GreaterOrEqual(t, m[`kmip_adapter_store_call_duration_seconds_count{method="ListTenants"}`], 1.0,
		"the store's optional calls (here the client registry's load) are measured")
	assert.Equal(t, 3.0+1, m[`kmip_adapter_root_of_trust_call_duration_seconds_count{method="Seal"}`])
	assert.Equal(t, 2.0+1, m[`kmip_adapter_root_of_trust_call_duration_seconds_count{method="Open"}`])

	// The parts' own metrics: the HSM set, the audit sink, the registry.
	assert.Equal(t, 1.0, m[`kmip_adapter_hsm_member_up{member="1",token="kmip-adapter-dev"}`])
	assert.Positive(t, m[`kmip_adapter_hsm_member_requests_total{member="1",token="kmip-adapter-dev"}`])
	assert.Equal(t, 0.0, m[`kmip_adapter_hsm_sessions_in_use{member="1",token="kmip-adapter-dev"}`])
	assert.Contains(t, m, "kmip_adapter_hsm_failovers_total")
	assert.GreaterOrEqual(t, m["kmip_adapter_audit_records_total"], 7.0, "the start record and one per batch item")
	assert.Positive(t, m["kmip_adapter_audit_commits_total"])
	assert.Equal(t, 0.0, m["kmip_adapter_audit_record_failures_total"])
	assert.GreaterOrEqual(t, m[`kmip_adapter_registry_reloads_total{result="ok"}`], 1.0)
	// The bbolt store's map, bounded by default (store.bbolt.resident_limit_mib).
	assert.Equal(t, float64(256<<20), m["kmip_adapter_store_map_resident_limit_bytes"])
	assert.Positive(t, m["kmip_adapter_store_map_resident_bytes"])
	assert.Contains(t, m, `kmip_adapter_store_map_drops_total{result="ok"}`)
	assert.Equal(t, 0.0, m[`kmip_adapter_store_map_drops_total{result="error"}`])

	// A client without a certificate is counted by reason.
	cfg := s.clientTLS(t)
	cfg.Certificates = nil
	if conn, err := dialTLS(s, cfg); err == nil {
		_, _ = conn.Read(make([]byte, 1))
		_ = conn.Close()
	}
	assert.Eventually(t, func() bool {
		return scrape(t, addr)[`kmip_adapter_tls_handshake_failures_total{reason="no_certificate"}`] == 1
	}, 5*time.Second, 50*time.Millisecond)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	_, addr := operableServer(t)
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok\n", string(body))

	resp, err = http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ready))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, ready.Ready)
	assert.Equal(t, map[string]string{"store": "ok", "root_of_trust": "ok"}, ready.Checks)
}

// serverCertSerial connects with a fresh TLS client and returns the serial
// number of the certificate the server presents.
func serverCertSerial(t *testing.T, s *server) string {
	t.Helper()
	conn, err := dialTLS(s, s.clientTLS(t))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Handshake())
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestSIGHUPReloadsTheServerCertificate(t *testing.T) {
	t.Parallel()
	s, addr := operableServer(t)
	old := ovhDial(t, s, kmip.V1_4) // a connection made before the reload
	ovhCreateAES(t, old, 128)
	before := serverCertSerial(t, s)
	const reloads = `kmip_adapter_registry_reloads_total{result="ok"}`
	reloadsBefore := scrape(t, addr)[reloads]

	ca, err := certs.LoadCA(s.pki("ca.crt"), s.pki("ca.key"))
	require.NoError(t, err)
	certPEM, keyPEM, err := ca.IssueServer([]string{"localhost", "127.0.0.1"}, certs.KeyTypeRSA)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.pki("server.key"), keyPEM, 0o600))
	require.NoError(t, os.WriteFile(s.pki("server.crt"), certPEM, 0o644))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return s.logged("reloaded certificates and trusted CAs") }, 5*time.Second, 20*time.Millisecond)

	after := serverCertSerial(t, s)
	assert.NotEqual(t, before, after, "new connections get the new certificate")
	want, _ := x509.ParseCertificate(mustDER(t, certPEM))
	assert.Equal(t, want.SerialNumber.String(), after)
	ovhCreateAES(t, old, 128) // the old connection keeps working
	// The registry's own poll may reload it too (the first Create made the
	// tenant, which changes the registry's serial): count the SIGHUP's
	// reloads in the log, and see the counter move at least as much.
	assert.Equal(t, 1, strings.Count(s.log.String(), "reloaded the client registry"), "SIGHUP reloads the client registry at once")
	assert.GreaterOrEqual(t, scrape(t, addr)[reloads], reloadsBefore+1)

	// A bad file is refused and the current certificate kept.
	require.NoError(t, os.WriteFile(s.pki("server.crt"), []byte("not a certificate"), 0o644))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return s.logged("reload refused: keeping the current certificates") }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, after, serverCertSerial(t, s))
	ovhCreateAES(t, old, 128)
	assert.Equal(t, 2, strings.Count(s.log.String(), "reloaded the client registry"), "the registry is reloaded even when a certificate file is bad")
	assert.GreaterOrEqual(t, scrape(t, addr)[reloads], reloadsBefore+2)
}

func mustDER(t *testing.T, certPEM []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	require.NotNil(t, b)
	return b.Bytes
}
