package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// tkekCmd is `kmipctl hsm tkek export`: the public keys clients encrypt
// imported key material under (see kmip/ops/transport.go).
func tkekCmd() *cobra.Command {
	tkek := &cobra.Command{Use: "tkek", Short: "Transport keys (TKEK) for secure import"}
	var configPath string
	export := &cobra.Command{
		Use:   "export [LABEL]",
		Short: "Print the TKEK public keys (PEM, PKIX) that clients encrypt imported keys under",
		Long: `export logs in to the configured partition and prints the public key of the TKEK
LABEL (all TKEKs without LABEL) as PEM "PUBLIC KEY" blocks, each preceded by a
comment line naming its label and the RSA-OAEP hash the partition accepts.
A client encrypts an AES key under it with RSA-OAEP and registers it with
Key Wrapping Data naming "transport:LABEL" as its Encryption Key Information.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cfg, be, err := loadRoots(cmd, configPath)
			if err != nil {
				return err
			}
			defer be.Close()
			imp, ok := backend.As[backend.TransportImporter](be)
			if !ok {
				return fmt.Errorf("backend %s has no transport keys", cfg.Backend.Type)
			}
			keys, err := imp.TransportKeys(ctx)
			if err != nil {
				return err
			}
			found := 0
			for _, k := range keys {
				if k.Public == nil || len(args) == 1 && k.Label != args[0] {
					continue
				}
				der, err := x509.MarshalPKIXPublicKey(k.Public)
				if err != nil {
					return fmt.Errorf("TKEK %s: %w", k.Label, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "# %s RSA-OAEP %s (register with Encryption Key Information transport:%s)\n", k.Label, strings.ReplaceAll(k.OAEPHash.String(), "-", ""), k.Label)
				if err := pem.Encode(cmd.OutOrStdout(), &pem.Block{Type: "PUBLIC KEY", Bytes: der}); err != nil {
					return err
				}
				found++
			}
			if found == 0 {
				if len(args) == 1 {
					return fmt.Errorf("no TKEK labelled %q on token %q", args[0], cfg.Backend.PKCS11.TokenLabel)
				}
				return fmt.Errorf("no TKEK on token %q (backend.pkcs11.tkek_count is 0?)", cfg.Backend.PKCS11.TokenLabel)
			}
			return nil
		},
	}
	export.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	tkek.AddCommand(export)
	return tkek
}
