package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// startRegistry loads the client registry from the store (the measured
// store offers store.Registry when the store does), keeps it fresh until
// ctx ends, and starts the admin API when admin.listen is set. Both report to the audit trail rec.
func startRegistry(ctx context.Context, cfg config.Config, st store.Store, service *ops.Service, rec audit.Recorder, log zerolog.Logger) (*identity.Identity, error) {
	reg, _ := store.As[store.Registry](st)
	if reg == nil && cfg.Registry.Mode == identity.ModeRegistry {
		return nil, fmt.Errorf("registry.mode: the %s store keeps no client registry", cfg.Store.Type)
	}
	ident, err := identity.New(ctx, identity.Options{
		Registry: reg, Server: cfg.Server, Mode: cfg.Registry.Mode, Poll: cfg.Registry.RefreshInterval,
		Audit: rec, Log: log,
	})
	if err != nil {
		return nil, err
	}
	go ident.Run(ctx)
	if err := serveAdmin(ctx, cfg, st, reg, service, ident, rec, log); err != nil {
		return nil, err
	}
	return ident, nil
}
