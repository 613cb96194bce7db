package server

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"
)

// Observer is told what the listener and the executor do, for metrics.
// Every method must be cheap and safe for concurrent use.
type Observer interface {
	// Request is one answered batch item; result is "success" or the
	// Result Reason.
	Request(operation, version, tenant, result string, took time.Duration)
	ConnectionOpened()
	ConnectionClosed()
	// HandshakeFailed is a refused connection, by reason: no_certificate,
	// bad_certificate, revoked, protocol_version, timeout, other; refused for a
	// connection over the limit.
	HandshakeFailed(reason string)
}

type nopObserver struct{}

func (nopObserver) Request(string, string, string, string, time.Duration) {}
func (nopObserver) ConnectionOpened()                                     {}
func (nopObserver) ConnectionClosed()                                     {}
func (nopObserver) HandshakeFailed(string)                                {}

// handshakeReason classifies a failed TLS handshake for metrics.
func handshakeReason(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	var alert tls.AlertError
	msg := err.Error()
	switch {
	case errors.Is(err, ErrRevoked) || strings.Contains(msg, ErrRevoked.Error()):
		return "revoked"
	case strings.Contains(msg, "didn't provide a certificate"):
		return "no_certificate"
	case strings.Contains(msg, "certificate") || strings.Contains(msg, "x509"):
		return "bad_certificate"
	case strings.Contains(msg, "protocol version") || strings.Contains(msg, "no cipher suite") || errors.As(err, &alert):
		return "protocol_version"
	}
	return "other"
}
