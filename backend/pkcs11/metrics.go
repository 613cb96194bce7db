package pkcs11

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The HSM set's own metrics: the Backend is a prometheus.Collector that
// the server registers beside its request metrics. Values are read when
// scraped, from the state the set keeps anyway (Members, Failovers, the
// session pools), so serving requests costs nothing more.
var (
	memberUpDesc = prometheus.NewDesc("kmip_adapter_hsm_member_up",
		"1 when the HSM set member serves requests, 0 when it is out.", []string{"member", "token"}, nil)
	memberRequestsDesc = prometheus.NewDesc("kmip_adapter_hsm_member_requests_total",
		"Calls an HSM set member served.", []string{"member", "token"}, nil)
	memberFailuresDesc = prometheus.NewDesc("kmip_adapter_hsm_member_retry_failures",
		"Failed tries to bring an HSM set member that is out back (0 while it is up).", []string{"member", "token"}, nil)
	failoversDesc = prometheus.NewDesc("kmip_adapter_hsm_failovers_total",
		"Requests that an HSM set member failed and another one served.", nil, nil)
	sessionsOpenDesc = prometheus.NewDesc("kmip_adapter_hsm_sessions_open",
		"PKCS#11 sessions of the pool open on a member (the anchor session not counted).", []string{"member", "token"}, nil)
	sessionsInUseDesc = prometheus.NewDesc("kmip_adapter_hsm_sessions_in_use",
		"PKCS#11 sessions of the pool a call holds now.", []string{"member", "token"}, nil)
	sessionsMaxDesc = prometheus.NewDesc("kmip_adapter_hsm_session_pool_size",
		"Most sessions the pool of each member opens (session_pool_size).", nil, nil)
	callsInFlightDesc = prometheus.NewDesc("kmip_adapter_hsm_calls_in_flight",
		"Calls into an HSM set member that have not returned yet.", []string{"member", "token"}, nil)
	callsStalledDesc = prometheus.NewDesc("kmip_adapter_hsm_calls_stalled_seconds",
		"How long a member has had calls in flight with none returning (0 when none is in flight); at call_timeout it is taken out as hung.", []string{"member", "token"}, nil)
)

// Describe implements prometheus.Collector.
func (b *Backend) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{memberUpDesc, memberRequestsDesc, memberFailuresDesc, failoversDesc, sessionsOpenDesc, sessionsInUseDesc, sessionsMaxDesc, callsInFlightDesc, callsStalledDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (b *Backend) Collect(ch chan<- prometheus.Metric) {
	for _, s := range b.Members() {
		labels := []string{strconv.Itoa(s.Member), s.Token}
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(memberUpDesc, prometheus.GaugeValue, up, labels...)
		ch <- prometheus.MustNewConstMetric(memberRequestsDesc, prometheus.CounterValue, float64(s.Requests), labels...)
		ch <- prometheus.MustNewConstMetric(memberFailuresDesc, prometheus.GaugeValue, float64(s.Failures), labels...)
	}
	at := time.Now()
	for _, m := range b.members {
		stalled, inFlight := m.watch.stalled(at)
		labels := []string{strconv.Itoa(m.idx), m.spec.TokenLabel}
		ch <- prometheus.MustNewConstMetric(callsInFlightDesc, prometheus.GaugeValue, float64(inFlight), labels...)
		ch <- prometheus.MustNewConstMetric(callsStalledDesc, prometheus.GaugeValue, stalled.Seconds(), labels...)
	}
	for _, m := range b.members {
		// A member being reconnected holds use exclusively and replaces
		// its pool: report nothing for it rather than wait.
		if !m.use.TryRLock() {
			continue
		}
		open, inUse := 0, 0
		if m.pool != nil {
			open, inUse = m.pool.usage()
		}
		m.use.RUnlock()
		labels := []string{strconv.Itoa(m.idx), m.spec.TokenLabel}
		ch <- prometheus.MustNewConstMetric(sessionsOpenDesc, prometheus.GaugeValue, float64(open), labels...)
		ch <- prometheus.MustNewConstMetric(sessionsInUseDesc, prometheus.GaugeValue, float64(inUse), labels...)
	}
	ch <- prometheus.MustNewConstMetric(failoversDesc, prometheus.CounterValue, float64(b.Failovers()))
	ch <- prometheus.MustNewConstMetric(sessionsMaxDesc, prometheus.GaugeValue, float64(b.cfg.SessionPoolSize))
}

var _ prometheus.Collector = (*Backend)(nil)
