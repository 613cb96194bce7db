package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
	"github.com/kmip-adapter/kmip-adapter/store/postgres"
)

// copyClients copies the registered clients (after their tenants). A
// client already in the target is kept if it names the same certificate
// or rule, and refused otherwise.
func copyClients(ctx context.Context, src *bbolt.Store, dst *postgres.Store) (copied int, err error) {
	clients, err := src.ListClients(ctx, "")
	if err != nil {
		return 0, err
	}
	for _, c := range clients {
		have, err := dst.GetClient(ctx, c.TenantID, c.Name)
		switch {
		case err == nil:
			if have.Fingerprint != c.Fingerprint || have.Match != c.Match {
				return copied, fmt.Errorf("client %s/%s is in the target with another certificate or rule: refusing to overwrite it", c.TenantID, c.Name)
			}
			continue
		case !errors.Is(err, store.ErrNotFound):
			return copied, err
		}
		rec := *c
		rec.Revision = 0
		if err := dst.PutClient(ctx, &rec); err != nil {
			return copied, fmt.Errorf("client %s/%s: %w", c.TenantID, c.Name, err)
		}
		copied++
	}
	return copied, nil
}
