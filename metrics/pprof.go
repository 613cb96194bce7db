package metrics

import (
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"time"
)

// WithPprof adds Go's profiling endpoints under /debug/pprof/ to h (the
// operations listener's handler), for `go tool pprof
// http://HOST:PORT/debug/pprof/profile?seconds=20`. It is opt-in
// (metrics.pprof): a profile shows where the server spends its time, never
// key material, but it costs CPU while it runs and the listener is plain
// HTTP.
//
// It also turns on sampling of contended mutexes (1 in 100) and of
// blocking over 100µs (/debug/pprof/mutex, /debug/pprof/block), which
// show where requests wait rather than where they compute.
func WithPprof(h http.Handler) http.Handler {
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(int((100 * time.Microsecond).Nanoseconds()))
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", longWrite(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", longWrite(pprof.Trace))
	return mux
}

// longWrite lifts the listener's write timeout for a handler that answers
// only after ?seconds=N of sampling, so that a profile longer than the
// timeout is not cut off.
func longWrite(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secs, _ := strconv.Atoi(r.FormValue("seconds"))
		if secs <= 0 {
			secs = 30 // pprof's own default
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(secs)*time.Second + 30*time.Second))
		h(w, r)
	}
}
