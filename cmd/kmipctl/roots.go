package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
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

// loadRoots loads the configuration (configPath and the command's flags)
// and opens its roots of trust (openRoots). The caller closes the
// backend.
func loadRoots(cmd *cobra.Command, configPath string) (context.Context, config.Config, backend.Backend, error) {
	cfg, err := cli.LoadConfig(configPath, cmd.Flags(), nil)
	if err != nil {
		return nil, cfg, nil, err
	}
	ctx, be, err := openRoots(cmd, cfg)
	return ctx, cfg, be, err
}

// printChecks writes the results of a root of trust's check as a table
// under the given column headers (tab-separated: the thing checked, its
// label, the status, the detail), a failed one with status failWord, and
// returns how many failed.
func printChecks(out io.Writer, header string, results []backend.CheckResult, failWord string) (failed int) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range results {
		status := "ok"
		if !r.OK {
			status, failed = failWord, failed+1
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Name, r.Label, status, r.Detail)
	}
	_ = w.Flush()
	return failed
}
