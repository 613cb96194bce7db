package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestCountsThroughTheCache: Request counts each label set apart
// (the cached children are the vectors' own), from many goroutines at
// once, and observes the latency by operation.
func TestRequestCountsThroughTheCache(t *testing.T) {
	type labels struct{ op, version, tenant, result string }
	calls := []struct {
		labels
		times int
	}{
		{labels{"Get", "1.4", "t1", "success"}, 50},
		{labels{"Get", "1.4", "t2", "success"}, 20},
		{labels{"Get", "2.0", "t1", "success"}, 7},
		{labels{"Get", "1.4", "t1", "Item Not Found"}, 3},
		{labels{"Create", "1.4", "t1", "success"}, 11},
	}
	m := New("test")
	var wg sync.WaitGroup
	for _, c := range calls {
		for range c.times {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.Request(c.op, c.version, c.tenant, c.result, time.Millisecond)
			}()
		}
	}
	wg.Wait()
	wantCounts := map[labels]float64{}
	wantLatency := map[string]uint64{}
	for _, c := range calls {
		wantCounts[c.labels] = float64(c.times)
		wantLatency[c.op] += uint64(c.times)
	}
	families, err := m.reg.Gather()
	require.NoError(t, err)
	counts := map[labels]float64{}
	latency := map[string]uint64{}
	for _, f := range families {
		for _, series := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range series.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			switch f.GetName() {
			case "kmip_adapter_requests_total":
				counts[labels{l["operation"], l["version"], l["tenant"], l["result"]}] = series.GetCounter().GetValue()
			case "kmip_adapter_request_duration_seconds":
				latency[l["operation"]] = series.GetHistogram().GetSampleCount()
			}
		}
	}
	assert.Equal(t, wantCounts, counts, "one series per label set, each counted")
	assert.Equal(t, wantLatency, latency, "one histogram per operation")
}

// BenchmarkRequest: what recording one answered request costs, from
// parallel goroutines, through the vectors' lookups and through the
// cache.
//
//	go test ./metrics -run '^$' -bench Request -benchmem
func BenchmarkRequest(b *testing.B) {
	m := New("bench")
	b.Run("vector", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.requests.WithLabelValues("Get", "1.4", "default", "success").Inc()
				m.requestLatency.WithLabelValues("Get").Observe(0.001)
			}
		})
	})
	b.Run("cached", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Request("Get", "1.4", "default", "success", time.Millisecond)
			}
		})
	})
}
