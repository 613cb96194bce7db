package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// tenantKey returns the tenant's KEK blob, making the tenant (and its KEK,
// inside the root of trust) on first use. Two nodes or goroutines racing
// to make it agree on the stored one.
func (s *Service) tenantKey(ctx context.Context, tenantID string) (backend.TenantKey, error) {
	s.tenantMu.Lock()
	key, ok := s.tenantKeys[tenantID]
	// The cache this reading will go into: ForgetTenantKeys replaces it,
	// and a record read before that must not enter the new one.
	cache := s.tenantKeys
	s.tenantMu.Unlock()
	if ok {
		return key, nil
	}
	t, err := s.db(ctx).GetTenant(ctx, tenantID)
	created := false
	if errors.Is(err, store.ErrNotFound) {
		t, err = s.createTenant(ctx, tenantID)
		created = true
	}
	if err != nil {
		return backend.TenantKey{}, err
	}
	key = backend.TenantKey{TenantID: t.ID, Blob: t.KeyBlob, Type: t.Backend}
	if created && inTx(ctx) {
		// Made in a transaction that may yet be rolled back: not cached
		// until a read finds it stored.
		return key, nil
	}
	s.tenantMu.Lock()
	cache[tenantID] = key
	s.tenantMu.Unlock()
	return key, nil
}

func (s *Service) createTenant(ctx context.Context, tenantID string) (*store.Tenant, error) {
	key, err := s.backend.NewTenantKey(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("new tenant key: %w", err)
	}
	t := &store.Tenant{ID: tenantID, Backend: s.backendType, KeyBlob: key.Blob}
	if key.Type != "" { // a backend.Router chose the root of trust
		t.Backend = key.Type
	}
	err = s.db(ctx).PutTenant(ctx, t)
	if errors.Is(err, store.ErrExists) {
		return s.db(ctx).GetTenant(ctx, tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("store tenant: %w", err)
	}
	s.log.Info().Str("tenant", tenantID).Msg("tenant key created")
	return t, nil
}
