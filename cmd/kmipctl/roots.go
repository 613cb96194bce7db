package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// openRoots opens every root of trust the configuration names, as the
// server does (a backend.Router when backend.types lists several), so that
// a command reaches the tenant, audit and transport keys whichever root
// made them. The caller closes the backend.
func openRoots(cmd *cobra.Command, cfg config.Config) (context.Context, backend.Backend, error) {
	ctx := cmdContext(cmd)
	be, err := backend.Open(ctx, cfg.Backend)
	return ctx, be, err
}
