package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Every answered request and every store and root-of-trust call records
// into a collector vector by label values. WithLabelValues hashes the
// values and takes the vector's read lock on each call, a lock shared by
// every connection's goroutine: about 2% of a Get's CPU at 16
// connections. The children found are kept here instead, per label
// values, and a call costs one lock-free map read. A cached child stays
// the vector's child because nothing deletes children (no Delete or
// Reset is ever called on these vectors); the cache holds no more
// entries than the vectors themselves.

// childCache maps label values to a vector's child, made on first use.
type childCache[K comparable, C any] struct {
	m sync.Map // K -> C
}

func (c *childCache[K, C]) get(k K, make func() C) C {
	if v, ok := c.m.Load(k); ok {
		return v.(C)
	}
	v, _ := c.m.LoadOrStore(k, make())
	return v.(C)
}

// requestLabels are the labels of kmip_adapter_requests_total.
type requestLabels struct{ operation, version, tenant, result string }

// observers caches the children of the vectors the hot paths record
// into.
type observers struct {
	requests       childCache[requestLabels, prometheus.Counter]
	requestLatency childCache[string, prometheus.Observer]
	storeLatency   childCache[string, prometheus.Observer]
	backendLatency childCache[string, prometheus.Observer]
}

func (m *Metrics) requestCounter(operation, version, tenant, result string) prometheus.Counter {
	return m.cache.requests.get(requestLabels{operation, version, tenant, result}, func() prometheus.Counter {
		return m.requests.WithLabelValues(operation, version, tenant, result)
	})
}

func (m *Metrics) requestObserver(operation string) prometheus.Observer {
	return m.cache.requestLatency.get(operation, func() prometheus.Observer {
		return m.requestLatency.WithLabelValues(operation)
	})
}

func (m *Metrics) storeObserver(method string) prometheus.Observer {
	return m.cache.storeLatency.get(method, func() prometheus.Observer {
		return m.storeLatency.WithLabelValues(method)
	})
}

func (m *Metrics) backendObserver(method string) prometheus.Observer {
	return m.cache.backendLatency.get(method, func() prometheus.Observer {
		return m.backendLatency.WithLabelValues(method)
	})
}
