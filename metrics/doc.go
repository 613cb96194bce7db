// Package metrics is the adapter's operational surface: Prometheus metrics
// (requests by operation, version, tenant and result; latencies; open
// connections; TLS handshake failures; store and root-of-trust call
// latency and errors) and the HTTP listener that serves them with
// /healthz and /readyz.
//
// The protocol layers know nothing of Prometheus: the listener and the
// batch executor report through small observer interfaces of their own
// (server.Observer), and the store and backend are wrapped by decorators
// here.
package metrics
