package hpcs

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// kmsMetrics measures every HTTP exchange with the KMS and IAM, one
// sample per attempt (a retried call counts each try): latency and
// failures by action (wrap, unwrap, rewrap, get_key, iam_token) and by
// status (the HTTP status, or unreachable / timeout when no answer came).
type kmsMetrics struct {
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

var circuitOpenDesc = prometheus.NewDesc("kmip_adapter_kms_circuit_open",
	"1 while the circuit breaker in front of the KMS fails calls at once.", nil, nil)

func newKMSMetrics() *kmsMetrics {
	return &kmsMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kmip_adapter_kms_request_duration_seconds",
			Help: "Time of each HTTP exchange with the KMS or IAM, by action and status.",
			// A KMS is a network service: milliseconds to its timeout.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"action", "status"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmip_adapter_kms_request_errors_total",
			Help: "HTTP exchanges with the KMS or IAM that failed (no answer, or a status of 400 or more), by action and status.",
		}, []string{"action", "status"}),
	}
}

// observe records one exchange. status is the HTTP status, or 0 when none
// came (err then says why).
func (k *kmsMetrics) observe(action string, status int, err error, took time.Duration) {
	label := strconv.Itoa(status)
	if status == 0 {
		label = "unreachable"
		if errors.Is(err, context.DeadlineExceeded) {
			label = "timeout"
		}
	}
	k.latency.WithLabelValues(action, label).Observe(took.Seconds())
	if status == 0 || status >= 400 {
		k.errors.WithLabelValues(action, label).Inc()
	}
}

// actionOf names a KMS API call by its path: the key action, or get_key.
func actionOf(method, path string) string {
	if i := strings.LastIndex(path, "/actions/"); i >= 0 {
		return path[i+len("/actions/"):]
	}
	if method == http.MethodGet && strings.HasPrefix(path, "keys/") {
		return "get_key"
	}
	return strings.ToLower(method)
}

// Describe implements prometheus.Collector: the server registers the
// backend beside its own metrics.
func (b *Backend) Describe(ch chan<- *prometheus.Desc) {
	b.client.metrics.latency.Describe(ch)
	b.client.metrics.errors.Describe(ch)
	ch <- circuitOpenDesc
}

// Collect implements prometheus.Collector.
func (b *Backend) Collect(ch chan<- prometheus.Metric) {
	b.client.metrics.latency.Collect(ch)
	b.client.metrics.errors.Collect(ch)
	open := 0.0
	if b.client.breaker.isOpen() {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(circuitOpenDesc, prometheus.GaugeValue, open)
}

var _ prometheus.Collector = (*Backend)(nil)
