package identity

import "github.com/prometheus/client_golang/prometheus"

// The registry's metrics, read when scraped: how often it was reloaded
// (on start, when another process changed it, on SIGHUP, after an admin
// change) and what the reading in force holds.
var (
	reloadsDesc = prometheus.NewDesc("kmip_adapter_registry_reloads_total",
		"Client registry loads, by result (ok, or failed: the previous reading stayed in force).", []string{"result"}, nil)
	clientsDesc = prometheus.NewDesc("kmip_adapter_registry_clients",
		"Registered clients in the reading in force (by fingerprint and by rule).", nil, nil)
	tenantsDesc = prometheus.NewDesc("kmip_adapter_registry_tenants",
		"Tenants in the reading in force.", nil, nil)
)

// Describe implements prometheus.Collector.
func (id *Identity) Describe(ch chan<- *prometheus.Desc) {
	ch <- reloadsDesc
	ch <- clientsDesc
	ch <- tenantsDesc
}

// Collect implements prometheus.Collector.
func (id *Identity) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(reloadsDesc, prometheus.CounterValue, float64(id.reloads.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(reloadsDesc, prometheus.CounterValue, float64(id.reloadFailures.Load()), "failed")
	s := id.snap.Load()
	ch <- prometheus.MustNewConstMetric(clientsDesc, prometheus.GaugeValue, float64(len(s.byFP)+len(s.rules)))
	ch <- prometheus.MustNewConstMetric(tenantsDesc, prometheus.GaugeValue, float64(len(s.tenants)))
}

var _ prometheus.Collector = (*Identity)(nil)
