package pkcs11

import (
	"context"
	"fmt"
	"strings"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Ready is nil while a member of the set is up. It calls no HSM: the set
// already knows (a member is taken out by the first request it fails and
// by the prober's health checks every health_interval).
func (b *Backend) Ready(context.Context) error {
	var out []string
	for _, s := range b.Members() {
		if s.Up {
			return nil
		}
		out = append(out, fmt.Sprintf("member %d: %s", s.Member, s.Cause))
	}
	return fmt.Errorf("pkcs11: no HSM set member is up (%s): %w", strings.Join(out, "; "), backend.ErrUnavailable)
}

var _ backend.ReadyProber = (*Backend)(nil)
