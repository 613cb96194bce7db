package hpcs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// readyFresh is how long an answer of the KMS (to a request or to the
// probe) counts as proof that it serves; readyRetry is how long a failed
// probe's answer is kept, so that probes from load balancers every second
// or two do not each call the KMS.
const (
	readyFresh = 15 * time.Second
	readyRetry = 5 * time.Second
)

// readiness caches the last probe.
type readiness struct {
	mu   sync.Mutex
	at   time.Time
	last error
}

// Ready is nil when the KMS answered within readyFresh (requests serve as
// probes), else after a light probe (reading the root key) that it
// answers. An open circuit breaker means not ready, without a call. A
// failed probe is answered again for readyRetry.
func (b *Backend) Ready(ctx context.Context) error {
	if b.client.breaker.isOpen() {
		return fmt.Errorf("hpcs: KMS circuit open after repeated failures: %w", backend.ErrUnavailable)
	}
	now := b.client.now()
	if now.Sub(time.Unix(0, b.client.answered.Load())) < readyFresh {
		return nil
	}
	b.ready.mu.Lock()
	defer b.ready.mu.Unlock()
	if b.ready.last != nil && now.Sub(b.ready.at) < readyRetry {
		return b.ready.last
	}
	if now.Sub(time.Unix(0, b.client.answered.Load())) < readyFresh {
		return nil // another probe just succeeded
	}
	_, err := b.client.getKey(ctx, b.cfg.RootKeyID)
	if err != nil && b.client.answered.Load() < now.UnixNano() {
		err = fmt.Errorf("hpcs: KMS probe: %w", err)
		b.ready.at, b.ready.last = now, err
		return err
	}
	// Any answer (a 404 for a deleted root key included) shows the KMS
	// serves; whether the root key is usable is the start-up check's and
	// the requests' business.
	b.ready.at, b.ready.last = now, nil
	return nil
}

var _ backend.ReadyProber = (*Backend)(nil)
