package backend

import (
	"context"
	"errors"
	"fmt"
)

// ReadyProber is implemented by backends that can say cheaply whether
// they can serve a request now. Readiness probes (/readyz) call it every
// few seconds on every node, so it must not cost a call into the root of
// trust each time when the backend already knows its state (an HSM set's
// members, a KMS client's recent answers and circuit breaker). A nil
// answer means ready; an error says why not, and matches ErrUnavailable.
type ReadyProber interface {
	Ready(ctx context.Context) error
}

// Ready is nil when at least one of the routed roots of trust is ready (a
// backend that cannot tell counts as ready): tenants on the others fail
// until theirs returns, but the node still serves.
func (r *Router) Ready(ctx context.Context) error {
	var errs []error
	for _, t := range r.types() {
		p, ok := As[ReadyProber](r.backends[t])
		if !ok {
			return nil
		}
		err := p.Ready(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

var _ ReadyProber = (*Router)(nil)
