package audit

import "github.com/prometheus/client_golang/prometheus"

// The sink's metrics, read when scraped from the counters it keeps:
// records/commits is the group commit's gain; any failure means KMIP
// requests were refused (audit.required) or went unrecorded.
var (
	recordsDesc = prometheus.NewDesc("kmip_adapter_audit_records_total",
		"Audit records made durable.", nil, nil)
	commitsDesc = prometheus.NewDesc("kmip_adapter_audit_commits_total",
		"Audit log writes, each with its fsync (group commit: several records per write).", nil, nil)
	failuresDesc = prometheus.NewDesc("kmip_adapter_audit_record_failures_total",
		"Audit records whose write failed.", nil, nil)
	queuedDesc = prometheus.NewDesc("kmip_adapter_audit_queue_length",
		"Record requests waiting for the audit log writer.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Sink) Describe(ch chan<- *prometheus.Desc) {
	ch <- recordsDesc
	ch <- commitsDesc
	ch <- failuresDesc
	ch <- queuedDesc
}

// Collect implements prometheus.Collector.
func (s *Sink) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.CounterValue, float64(s.Records()))
	ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(s.Commits()))
	ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(s.Failures()))
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(len(s.queue)))
}

var _ prometheus.Collector = (*Sink)(nil)
