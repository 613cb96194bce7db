package ops

import (
	"context"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// CreateTenant makes a tenant record with its KEK (generated inside the
// tenant's root of trust) and the given settings, for the admin API.
// ErrExists (wrapped) if the tenant has a record. backendType "" is the
// configured backend's type. settings.Root, when set, is the root key of
// the tenant's root of trust that wraps the KEK (backend.WithTenantRoot).
func (s *Service) CreateTenant(ctx context.Context, id, backendType string, settings store.TenantSettings) (*store.Tenant, error) {
	if backendType == "" {
		backendType = s.backendType
	}
	key, err := s.backend.NewTenantKey(backend.WithTenantRoot(backend.WithTenantType(ctx, backendType), settings.Root), id)
	if err != nil {
		return nil, fmt.Errorf("new tenant key: %w", err)
	}
	if key.Type != "" { // a backend.Router made it, on the type asked for
		backendType = key.Type
	}
	t := &store.Tenant{ID: id, Backend: backendType, KeyBlob: key.Blob, TenantSettings: settings}
	if err := s.store.PutTenant(ctx, t); err != nil {
		return nil, fmt.Errorf("store tenant: %w", err)
	}
	s.log.Info().Str("tenant", id).Msg("tenant created with its key")
	return t, nil
}

// ForgetTenant drops what the service caches of a tenant (its KEK blob),
// after the tenant was deleted.
func (s *Service) ForgetTenant(id string) {
	s.tenantMu.Lock()
	delete(s.tenantKeys, id)
	s.tenantMu.Unlock()
}

// ForgetTenantKeys drops every cached tenant KEK blob, so that the next
// use of each tenant reads its record again: after another node or
// kmipctl changed tenant records (a root rotation rewrapped them). The
// cache is replaced, not emptied, so that a reading taken before this
// call and stored after it goes into the old one and is lost.
func (s *Service) ForgetTenantKeys() {
	s.tenantMu.Lock()
	s.tenantKeys = map[string]backend.TenantKey{}
	s.tenantMu.Unlock()
}
