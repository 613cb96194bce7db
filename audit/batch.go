package audit

import (
	"context"
	"errors"
)

// BatchRecorder is implemented by recorders that take several events at
// once and make them durable together (one fsync for a whole KMIP batch).
type BatchRecorder interface {
	RecordAll(ctx context.Context, events []Event) error
}

// RecordAll records events through r: in one call when r is a
// BatchRecorder, one by one otherwise.
func RecordAll(ctx context.Context, r Recorder, events []Event) error {
	if b, ok := r.(BatchRecorder); ok {
		return b.RecordAll(ctx, events)
	}
	var errs []error
	for _, e := range events {
		errs = append(errs, r.Record(ctx, e))
	}
	return errors.Join(errs...)
}

// Peer is what the listener knows of the connection a request came on.
type Peer struct {
	Remote      string // host:port
	Fingerprint string // the client certificate's "sha256:HEX"
}

type peerKey struct{}

// WithPeer returns ctx carrying p, for the events of the requests on it.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFrom returns the Peer that WithPeer put in ctx, if any.
func PeerFrom(ctx context.Context) Peer {
	p, _ := ctx.Value(peerKey{}).(Peer)
	return p
}
