package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "kmip_adapter"

// Metrics holds the adapter's collectors in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	requests          *prometheus.CounterVec
	requestLatency    *prometheus.HistogramVec
	connections       prometheus.Gauge
	connectionsTotal  prometheus.Counter
	handshakeFailures *prometheus.CounterVec
	storeLatency      *prometheus.HistogramVec
	storeErrors       *prometheus.CounterVec
	backendLatency    *prometheus.HistogramVec
	backendErrors     *prometheus.CounterVec

	// cache holds the children the hot paths record into (observers.go).
	cache observers
}

// latencyBuckets span a cached Get (tens of microseconds) to a stalled HSM
// or store (seconds).
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New makes the collectors, with Go runtime and process metrics beside
// them. version is exported as kmip_adapter_build_info.
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "KMIP batch items answered, by operation, protocol version, tenant and result (success or the Result Reason).",
		}, []string{"operation", "version", "tenant", "result"}),
		requestLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help: "Time to run one KMIP batch item, by operation.", Buckets: latencyBuckets,
		}, []string{"operation"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "connections_open", Help: "KMIP client connections open now.",
		}),
		connectionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_total", Help: "KMIP client connections accepted.",
		}),
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tls_handshake_failures_total",
			Help: "TLS handshakes that failed, by reason (no_certificate, bad_certificate, revoked, protocol_version, timeout, other, refused).",
		}, []string{"reason"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_call_duration_seconds",
			Help: "Time of object store calls, by method.", Buckets: latencyBuckets,
		}, []string{"method"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_call_errors_total",
			Help: "Object store calls that failed (not found and conflicts excluded), by method.",
		}, []string{"method"}),
		backendLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "root_of_trust_call_duration_seconds",
			Help: "Time of root-of-trust calls (HSM or KMS), by method.", Buckets: latencyBuckets,
		}, []string{"method"}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "root_of_trust_call_errors_total",
			Help: "Root-of-trust calls that failed, by method.",
		}, []string{"method"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "The running release.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.requestLatency, m.connections, m.connectionsTotal, m.handshakeFailures,
		m.storeLatency, m.storeErrors, m.backendLatency, m.backendErrors, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors live; other packages may register
// theirs (HSM set members, rotation progress) here.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request records one answered batch item (server.Observer).
func (m *Metrics) Request(operation, version, tenant, result string, took time.Duration) {
	m.requestCounter(operation, version, tenant, result).Inc()
	m.requestObserver(operation).Observe(took.Seconds())
}

// ConnectionOpened records an accepted connection (server.Observer).
func (m *Metrics) ConnectionOpened() {
	m.connections.Inc()
	m.connectionsTotal.Inc()
}

// ConnectionClosed records a closed connection (server.Observer).
func (m *Metrics) ConnectionClosed() { m.connections.Dec() }

// HandshakeFailed records a failed TLS handshake by reason
// (server.Observer).
func (m *Metrics) HandshakeFailed(reason string) { m.handshakeFailures.WithLabelValues(reason).Inc() }
