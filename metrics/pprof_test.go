package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithPprof(t *testing.T) {
	m := New("test")
	plain := httptest.NewServer(m.Handler(nil, time.Second))
	defer plain.Close()
	profiled := httptest.NewServer(WithPprof(m.Handler(nil, time.Second)))
	defer profiled.Close()

	get := func(base, path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name     string
		base     string
		path     string
		status   int
		contains string
	}{
		{"off by default", plain.URL, "/debug/pprof/", http.StatusNotFound, ""},
		{"index", profiled.URL, "/debug/pprof/", http.StatusOK, "goroutine"},
		{"heap profile", profiled.URL, "/debug/pprof/heap?debug=1", http.StatusOK, "heap profile"},
		{"cpu profile", profiled.URL, "/debug/pprof/profile?seconds=1", http.StatusOK, ""},
		{"metrics still served", profiled.URL, "/metrics", http.StatusOK, "go_goroutines"},
		{"health still served", profiled.URL, "/healthz", http.StatusOK, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(tt.base, tt.path)
			assert.Equal(t, tt.status, status)
			assert.Contains(t, body, tt.contains)
		})
	}
}
