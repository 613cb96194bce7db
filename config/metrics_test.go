package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsValidate(t *testing.T) {
	tests := []struct {
		name string
		m    Metrics
		err  string
	}{
		{"off", Metrics{}, ""},
		{"listener", Metrics{Listen: "127.0.0.1:9100"}, ""},
		{"listener with pprof", Metrics{Listen: "127.0.0.1:9100", Pprof: true}, ""},
		{"pprof without listener", Metrics{Pprof: true}, "metrics.pprof: needs metrics.listen"},
		{"bad listener", Metrics{Listen: "9100"}, "metrics.listen:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.validate()
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
		})
	}
}
