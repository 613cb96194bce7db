package pkcs11

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// scrape gathers reg and returns each sample's value by name and member
// label ("" when the metric has none).
func scrape(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	for _, f := range families {
		byMember := map[string]float64{}
		for _, m := range f.GetMetric() {
			member := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "member" {
					member = l.GetValue()
				}
			}
			switch {
			case m.GetGauge() != nil:
				byMember[member] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				byMember[member] = m.GetCounter().GetValue()
			}
		}
		out[f.GetName()] = byMember
	}
	return out
}

// TestSetMetrics: the set reports members up and down, failovers, calls
// per member and session pool use as it changes.
func TestSetMetrics(t *testing.T) {
	b, _, mods := openHA(t, nil)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(b))
	ctx := context.Background()
	key, err := b.NewTenantKey(ctx, "tenant-metrics")
	require.NoError(t, err)
	for range 4 {
		_, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("m"), AdditionalData: []byte("a")})
		require.NoError(t, err)
	}

	s := scrape(t, reg)
	assert.Equal(t, map[string]float64{"1": 1, "2": 1}, s["kmip_adapter_hsm_member_up"])
	assert.Positive(t, s["kmip_adapter_hsm_member_requests_total"]["1"]+s["kmip_adapter_hsm_member_requests_total"]["2"])
	assert.Equal(t, float64(haCfg.SessionPoolSize), s["kmip_adapter_hsm_session_pool_size"][""])
	assert.Positive(t, s["kmip_adapter_hsm_sessions_open"]["1"]+s["kmip_adapter_hsm_sessions_open"]["2"], "sessions were opened")
	assert.Equal(t, map[string]float64{"1": 0, "2": 0}, s["kmip_adapter_hsm_sessions_in_use"], "no call in flight")
	assert.Equal(t, 0.0, s["kmip_adapter_hsm_failovers_total"][""])

	mods[0].kill()
	for range 4 { // one lands on member 1 and fails over, unless the prober took it out first
		_, err := b.Seal(ctx, backend.SealRequest{Key: key, Plaintext: []byte("m"), AdditionalData: []byte("a")})
		require.NoError(t, err)
	}
	waitUp(t, b, false, true)
	s = scrape(t, reg)
	assert.Equal(t, map[string]float64{"1": 0, "2": 1}, s["kmip_adapter_hsm_member_up"])
	assert.Equal(t, float64(b.Failovers()), s["kmip_adapter_hsm_failovers_total"][""])

	assert.NoError(t, b.Ready(ctx), "one member serves")
	mods[1].kill()
	require.Eventually(t, func() bool { return b.Ready(ctx) != nil }, 10*time.Second, 5*time.Millisecond, "not ready with no member")
	err = b.Ready(ctx)
	assert.ErrorIs(t, err, backend.ErrUnavailable)
	assert.Contains(t, err.Error(), "member 1:")
	assert.Equal(t, map[string]float64{"1": 0, "2": 0}, scrape(t, reg)["kmip_adapter_hsm_member_up"])
	mods[1].restart()
	mods[0].restart()
	waitUp(t, b, true, true)
	assert.NoError(t, b.Ready(ctx))
	s = scrape(t, reg)
	assert.Equal(t, map[string]float64{"1": 1, "2": 1}, s["kmip_adapter_hsm_member_up"])
	assert.Equal(t, 0.0, s["kmip_adapter_hsm_member_retry_failures"]["1"])
}
