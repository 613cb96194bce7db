package kmsdev

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// Faults are what the stand-in does to requests before answering them
// (the IAM token endpoint included; the faults endpoint excluded).
type Faults struct {
	// Status, when not 0, answers requests with this HTTP status (429,
	// 500, 503, ...) in the KMS error envelope instead of serving them.
	Status int `json:"status"`
	// Count limits Status to the next Count requests; 0 means every
	// request until Until (or until the faults are cleared).
	Count int `json:"count"`
	// For limits Status to this long from now; 0 means no time limit.
	For time.Duration `json:"for"`
	// Latency delays every request (faulty or not) this long.
	Latency time.Duration `json:"latency"`
}

type faultState struct {
	Faults
	until time.Time
}

// SetFaults replaces the injected faults; the zero Faults clears them.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultState{Faults: f}
	if f.For > 0 {
		s.faults.until = s.now().Add(f.For)
	}
}

// takeFault returns the status to answer with (0: serve normally) and the
// delay to add, consuming one of Count.
func (s *Server) takeFault() (int, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	if f.Status == 0 {
		return 0, f.Latency
	}
	if !f.until.IsZero() && s.now().After(f.until) {
		f.Status = 0
		return 0, f.Latency
	}
	status := f.Status
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			f.Status = 0
		}
	}
	return status, f.Latency
}

// handleFaults is POST /kmsdev/faults with a Faults document (durations
// as Go duration strings: {"status":503,"for":"5s","latency":"100ms"});
// an empty document clears the faults. Only loopback clients may call it.
func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		writeError(w, http.StatusForbidden, "Forbidden: the faults endpoint answers loopback clients only", "RESOURCE_OWNER_ERR", "loopback only")
		return
	}
	var in struct {
		Status  int    `json:"status"`
		Count   int    `json:"count"`
		For     string `json:"for"`
		Latency string `json:"latency"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, "Bad Request: faults document", "BAD_BODY_ERR", err.Error())
			return
		}
	}
	f := Faults{Status: in.Status, Count: in.Count}
	for _, d := range []struct {
		text string
		dst  *time.Duration
	}{{in.For, &f.For}, {in.Latency, &f.Latency}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v < 0 {
			writeError(w, http.StatusBadRequest, "Bad Request: faults document", "BAD_BODY_ERR", "durations are Go duration strings like 5s")
			return
		}
		*d.dst = v
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		writeError(w, http.StatusBadRequest, "Bad Request: faults document", "BAD_BODY_ERR", "status must be 4xx or 5xx")
		return
	}
	s.SetFaults(f)
	w.WriteHeader(http.StatusNoContent)
}

func faultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS_ERR"
	case http.StatusServiceUnavailable:
		return "SERVICE_UNAVAILABLE_ERR"
	default:
		return "INTERNAL_SERVER_ERR"
	}
}

func faultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too many requests: Please retry later"
	case http.StatusServiceUnavailable:
		return "Service unavailable: Please retry later"
	default:
		return http.StatusText(status)
	}
}

func faultTitle(status int) string {
	return http.StatusText(status) + ": the request could not be served"
}
