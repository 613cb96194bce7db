package metrics

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// RegisterParts registers the metrics that the server's parts keep
// themselves: each part that is a prometheus.Collector (the HSM set, the
// KMS client, the audit sink, the client registry, the bbolt store). A backend.Router is
// looked into, backend by backend. Parts are given unwrapped: the
// decorators here hide what is not an interface of their package.
func (m *Metrics) RegisterParts(parts ...any) error {
	var errs []error
	for _, p := range parts {
		if r, ok := p.(*backend.Router); ok {
			for _, t := range backend.Types() {
				if b, ok := r.Backend(t); ok {
					errs = append(errs, m.RegisterParts(b))
				}
			}
			continue
		}
		if c, ok := p.(prometheus.Collector); ok {
			errs = append(errs, m.reg.Register(c))
		}
	}
	return errors.Join(errs...)
}

// RootOfTrustReady is the readiness check of a backend: its own cheap
// ReadyProber when it has one (no HSM or KMS call while its state is
// known), else a draw of one random byte (a working HSM session), else
// ready.
func RootOfTrustReady(be backend.Backend) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if p, ok := backend.As[backend.ReadyProber](be); ok {
			return p.Ready(ctx)
		}
		if r, ok := backend.As[backend.RandomSource](be); ok {
			_, err := r.Random(ctx, 1)
			return err
		}
		return nil
	}
}
