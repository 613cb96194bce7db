package hpcs_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
)

// kmsSamples sums a scrape of reg: name -> status -> value (sample
// counts for histograms).
func kmsSamples(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	for _, f := range families {
		byStatus := map[string]float64{}
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" {
					key = l.GetValue()
				}
				if l.GetName() == "action" && key == "" {
					key = l.GetValue()
				}
			}
			switch {
			case m.GetHistogram() != nil:
				byStatus[key] += float64(m.GetHistogram().GetSampleCount())
			case m.GetCounter() != nil:
				byStatus[key] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				byStatus[key] += m.GetGauge().GetValue()
			}
		}
		out[f.GetName()] = byStatus
	}
	return out
}

// TestMetrics: every exchange with the KMS and IAM is counted by status,
// failures apart, and the breaker's state is visible.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(b))

	e.kms.SetFaults(kmsdev.Faults{Status: http.StatusTooManyRequests, Count: 2})
	tk, err := b.NewTenantKey(ctx, "t1")
	require.NoError(t, err)
	ct := seal(t, b, tk, "kept")
	s := kmsSamples(t, reg)
	assert.Equal(t, 2.0, s["kmip_adapter_kms_request_errors_total"]["429"])
	assert.Equal(t, 2.0, s["kmip_adapter_kms_request_duration_seconds"]["200"], "one token, one wrap")
	assert.Equal(t, 0.0, s["kmip_adapter_kms_circuit_open"][""])

	e.kms.SetFaults(kmsdev.Faults{Status: http.StatusServiceUnavailable})
	fresh := e.open(t)
	freshReg := prometheus.NewRegistry()
	require.NoError(t, freshReg.Register(fresh))
	for range 3 {
		_, err = open(fresh, tk, ct)
		require.Error(t, err)
	}
	s = kmsSamples(t, freshReg)
	assert.Equal(t, float64(3*(e.cfg.Retries+1)), s["kmip_adapter_kms_request_errors_total"]["503"], "each try of each call")
	assert.Equal(t, 1.0, s["kmip_adapter_kms_circuit_open"][""])
}

// TestReady: readiness probes cost a KMS call only when no request
// showed the KMS alive recently, and a failed probe is answered from
// the cache for a while; an open circuit is unready without a call.
func TestReady(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.open(t)
	require.NoError(t, b.Ready(ctx), "first probe reads the root key")
	gets := e.kms.Count("get")
	assert.Equal(t, 1, gets)
	for range 5 {
		require.NoError(t, b.Ready(ctx))
	}
	assert.Equal(t, gets, e.kms.Count("get"), "a fresh answer needs no probe")

	e.kms.SetFaults(kmsdev.Faults{Status: http.StatusServiceUnavailable})
	down := e.open(t)
	err := down.Ready(ctx)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	assert.Contains(t, err.Error(), "KMS probe")
	tokens := e.kms.Count("token")
	for range 5 {
		require.Error(t, down.Ready(ctx))
	}
	assert.Equal(t, tokens, e.kms.Count("token"), "a failed probe is not repeated at once")

	for range 3 { // open the circuit
		_, _ = down.NewTenantKey(ctx, "t")
	}
	calls := e.kms.Count("token")
	err = down.Ready(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "circuit open")
	assert.Equal(t, calls, e.kms.Count("token"))
	e.kms.SetFaults(kmsdev.Faults{})
}
