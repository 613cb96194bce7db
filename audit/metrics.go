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
	extendsDesc = prometheus.NewDesc("kmip_adapter_audit_extending_writes_total",
		"Audit log writes that found no preallocated space left and extended the file, each at the cost of a file system journal commit: preallocation fell behind, failed (a full disk: the server log says so) or is off.", nil, nil)
	queuedDesc = prometheus.NewDesc("kmip_adapter_audit_queue_length",
		"Record requests waiting for the audit log writer.", nil, nil)
	headWritesDesc = prometheus.NewDesc("kmip_adapter_audit_head_checkpoints_total",
		"Chain head checkpoints written to the store, by result (ok, error).", []string{"result"}, nil)
	headLagDesc = prometheus.NewDesc("kmip_adapter_audit_head_lag_records",
		"Records of the audit log after the chain head last stored: what a cut of the log's end could remove unnoticed.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Sink) Describe(ch chan<- *prometheus.Desc) {
	ch <- recordsDesc
	ch <- commitsDesc
	ch <- failuresDesc
	ch <- extendsDesc
	ch <- queuedDesc
	ch <- headWritesDesc
	ch <- headLagDesc
}

// Collect implements prometheus.Collector.
func (s *Sink) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.CounterValue, float64(s.Records()))
	ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(s.Commits()))
	ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(s.Failures()))
	ch <- prometheus.MustNewConstMetric(extendsDesc, prometheus.CounterValue, float64(s.ExtendingWrites()))
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(len(s.queue)))
	if s.heads != nil {
		writes, failures, lag := s.heads.stats()
		ch <- prometheus.MustNewConstMetric(headWritesDesc, prometheus.CounterValue, float64(writes), "ok")
		ch <- prometheus.MustNewConstMetric(headWritesDesc, prometheus.CounterValue, float64(failures), "error")
		ch <- prometheus.MustNewConstMetric(headLagDesc, prometheus.GaugeValue, float64(lag))
	}
}

var _ prometheus.Collector = (*Sink)(nil)
