package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
)

// TestReadyzFollowsTheKMS: with the tenant's root of trust on a KMS,
// /readyz turns unready when the KMS stops answering (the circuit breaker
// opens on the failed requests) and ready again when it returns, without
// a restart; the KMS metrics count the failures by action and status.
func TestReadyzFollowsTheKMS(t *testing.T) {
	kms, kmsURL := kmsStandIn(t)
	s, _ := hpcsServer(t, kmsURL, "--metrics-listen", "127.0.0.1:0")
	addr := metricsAddr(t, s)
	c := ovhDial(t, s, kmip.V1_4)
	id := ovhCreateAES(t, c, 256)
	require.Equal(t, http.StatusOK, readyz(t, addr))
	before := scrape(t, addr)
	assert.Positive(t, before[`kmip_adapter_kms_request_duration_seconds_count{action="wrap",status="200"}`])
	assert.Equal(t, 0.0, before["kmip_adapter_kms_circuit_open"])

	kms.SetFaults(kmsdev.Faults{Status: http.StatusServiceUnavailable})
	time.Sleep(hpcsCacheTTL) // the KEK cache would serve until then
	require.Eventually(t, func() bool {
		ovhGetResult(t, c, id) // requests meet the outage
		return readyz(t, addr) == http.StatusServiceUnavailable
	}, 20*time.Second, 100*time.Millisecond, "unready with the KMS gone")
	during := scrape(t, addr)
	assert.Equal(t, 1.0, during["kmip_adapter_kms_circuit_open"])
	assert.Positive(t, during[`kmip_adapter_kms_request_errors_total{action="unwrap",status="503"}`])

	kms.SetFaults(kmsdev.Faults{})
	require.Eventually(t, func() bool { return readyz(t, addr) == http.StatusOK }, 20*time.Second, 100*time.Millisecond,
		"ready again once the KMS answers")
	_, got := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	assert.Len(t, got, 32)
}
