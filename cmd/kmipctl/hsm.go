package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	_ "github.com/kmip-adapter/kmip-adapter/backend/pkcs11" // registers the pkcs11 backend
)

func hsmCmd() *cobra.Command {
	hsm := &cobra.Command{Use: "hsm", Short: "Root of trust (HSM partition)"}
	var configPath string
	check := &cobra.Command{
		Use:   "check",
		Short: "Log in to the configured partition and check the BYOHSM key set, key by key",
		Long: `check runs the server's start-up check: it logs in to the configured partition
and reports whether MKEK, SKEY, IKEY and every TKEK pair exist with usable types
and attributes, and whether the configured mechanisms work. It exits 1 if
anything is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cfg, be, err := loadRoots(cmd, configPath)
			if err != nil {
				return err
			}
			defer be.Close()
			checker, ok := backend.As[backend.Checker](be)
			if !ok {
				return fmt.Errorf("backend %s has no key check", cfg.Backend.Type)
			}
			results := checker.Check(ctx)
			failed := printChecks(cmd.OutOrStdout(), "KEY\tLABEL\tSTATUS\tDETAIL", results, "MISSING")
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed on token %q", failed, len(results), cfg.Backend.PKCS11.TokenLabel)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "all %d checks passed on token %q\n", len(results), cfg.Backend.PKCS11.TokenLabel)
			return nil
		},
	}
	check.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	hsm.AddCommand(check, rotateCmd(), tkekCmd())
	return hsm
}
