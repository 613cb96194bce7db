package bbolt

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The store's own metrics: group commit (commit.go) and the map's
// residency (resident.go).

var (
	residentDesc = prometheus.NewDesc("kmip_adapter_store_map_resident_bytes",
		"Resident pages of files the server maps (RssFile): the bbolt store file's map and a few MiB of binary and libraries; what store.bbolt.resident_limit_mib bounds.", nil, nil)
	residentLimitDesc = prometheus.NewDesc("kmip_adapter_store_map_resident_limit_bytes",
		"store.bbolt.resident_limit_mib in bytes (0: unbounded).", nil, nil)
	mapDropsDesc = prometheus.NewDesc("kmip_adapter_store_map_drops_total",
		"Times the bbolt store file's pages were dropped from the server's map, by result (ok, error).", []string{"result"}, nil)
	commitsDesc = prometheus.NewDesc("kmip_adapter_store_commits_total",
		"bbolt transactions of the group committer (each ends with two fdatasyncs).", nil, nil)
	commitWritesDesc = prometheus.NewDesc("kmip_adapter_store_commit_writes_total",
		"Writes made durable by the group committer; divided by kmip_adapter_store_commits_total, the writes that share a commit.", nil, nil)
	commitSecondsDesc = prometheus.NewDesc("kmip_adapter_store_commit_seconds_total",
		"Time the group committer spent committing (running the writes and syncing); divided by kmip_adapter_store_commits_total, the time per commit.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	ch <- residentDesc
	ch <- residentLimitDesc
	ch <- mapDropsDesc
	ch <- commitsDesc
	ch <- commitWritesDesc
	ch <- commitSecondsDesc
}

// Collect implements prometheus.Collector: the resident file pages are
// read at the scrape (with no limit there is no monitor to read them).
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(s.writes.commits.Load()))
	ch <- prometheus.MustNewConstMetric(commitWritesDesc, prometheus.CounterValue, float64(s.writes.writes.Load()))
	ch <- prometheus.MustNewConstMetric(commitSecondsDesc, prometheus.CounterValue, time.Duration(s.writes.commitNanos.Load()).Seconds())
	if !residencySupported {
		return
	}
	if rss, err := residentFileBytes(); err == nil {
		ch <- prometheus.MustNewConstMetric(residentDesc, prometheus.GaugeValue, float64(rss))
	}
	var limit, drops, failures int64
	if r := s.resident; r != nil {
		limit, drops, failures = r.limit, r.drops.Load(), r.failures.Load()
	}
	ch <- prometheus.MustNewConstMetric(residentLimitDesc, prometheus.GaugeValue, float64(limit))
	ch <- prometheus.MustNewConstMetric(mapDropsDesc, prometheus.CounterValue, float64(drops), "ok")
	ch <- prometheus.MustNewConstMetric(mapDropsDesc, prometheus.CounterValue, float64(failures), "error")
}

var _ prometheus.Collector = (*Store)(nil)
