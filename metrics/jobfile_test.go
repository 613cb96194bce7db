package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJobFile: the progress file parses as Prometheus text, is written
// at most once a second while running and always at the end, and a nil
// JobFile does nothing.
func TestJobFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmipctl_rotate.prom")
	j := NewJobFile(path, "hsm_rotate")
	clock := time.Unix(1_800_000_000, 0)
	j.now = func() time.Time { return clock }

	read := func() map[string]float64 {
		t.Helper()
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		p := expfmt.NewTextParser(model.LegacyValidation)
		families, err := p.TextToMetricFamilies(strings.NewReader(string(data)))
		require.NoError(t, err)
		out := map[string]float64{}
		for name, f := range families {
			for _, m := range f.GetMetric() {
				key := name
				for _, l := range m.GetLabel() {
					if l.GetName() == "state" {
						key += "/" + l.GetValue()
					}
				}
				out[key] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	require.NoError(t, j.Update(0, 10, 0, false))
	assert.Equal(t, 10.0, read()["kmip_adapter_job_items/total"])
	require.NoError(t, j.Update(5, 10, 1, false))
	assert.Equal(t, 0.0, read()["kmip_adapter_job_items/done"], "not rewritten within the second")
	clock = clock.Add(time.Second)
	require.NoError(t, j.Update(6, 10, 1, false))
	got := read()
	assert.Equal(t, 6.0, got["kmip_adapter_job_items/done"])
	assert.Equal(t, 1.0, got["kmip_adapter_job_items/failed"])
	assert.Equal(t, 0.0, got["kmip_adapter_job_finished"])
	require.NoError(t, j.Update(10, 10, 1, true))
	got = read()
	assert.Equal(t, 10.0, got["kmip_adapter_job_items/done"])
	assert.Equal(t, 1.0, got["kmip_adapter_job_finished"])
	assert.Equal(t, float64(clock.Unix()), got["kmip_adapter_job_last_update_time_seconds"])
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	assert.Empty(t, leftovers, "no temporary file left")

	var none *JobFile = NewJobFile("", "x")
	assert.Nil(t, none)
	assert.NoError(t, none.Update(1, 1, 0, true))
}
