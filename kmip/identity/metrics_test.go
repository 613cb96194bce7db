package identity_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// registrySamples scrapes reg: name (with the result label, if any) ->
// value.
func registrySamples(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			if m.GetCounter() != nil {
				out[name] = m.GetCounter().GetValue()
			} else {
				out[name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestRegistryMetrics: reloads are counted by result, and the gauges
// follow the reading in force.
func TestRegistryMetrics(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(f.id))
	before := registrySamples(t, reg)
	assert.Equal(t, 1.0, before["kmip_adapter_registry_reloads_total{ok}"], "loaded once by New")
	assert.Equal(t, 0.0, before["kmip_adapter_registry_reloads_total{failed}"])
	assert.Positive(t, before["kmip_adapter_registry_tenants"])

	stranger := issue(t, f.ca, "stranger")
	require.NoError(t, f.st.PutClient(ctx, &store.Client{TenantID: "a", Name: "new", Enabled: true, Fingerprint: server.Fingerprint(stranger)}))
	require.NoError(t, f.id.Invalidate(ctx))
	after := registrySamples(t, reg)
	assert.Equal(t, 2.0, after["kmip_adapter_registry_reloads_total{ok}"])
	assert.Equal(t, before["kmip_adapter_registry_clients"]+1, after["kmip_adapter_registry_clients"])

	require.NoError(t, f.st.Close())
	require.Error(t, f.id.Invalidate(ctx))
	failed := registrySamples(t, reg)
	assert.Equal(t, 1.0, failed["kmip_adapter_registry_reloads_total{failed}"])
	assert.Equal(t, after["kmip_adapter_registry_clients"], failed["kmip_adapter_registry_clients"], "the previous reading stays")
}
