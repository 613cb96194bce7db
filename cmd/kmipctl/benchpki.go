package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/certs"
)

// benchPKICmd makes the certificates a peer server is benchmarked with:
// the development PKI with ECDSA keys, which pykmip-server (TLS 1.2 only,
// OpenSSL) and Go clients both accept with their default suites.
func benchPKICmd() *cobra.Command {
	var dir, keyType string
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Make a CA, a server certificate (localhost, 127.0.0.1) and a clientAuth client certificate for a peer KMIP server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := certs.DevPKI(dir, certs.DevPKIOptions{KeyType: keyType}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %s/%s, %s/%s\n", dir, certs.CACertFile,
				certs.ServerCertFile, certs.ServerKeyFile, certs.ClientCertFile, certs.ClientKeyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", filepath.Join(".", "peer-pki"), "directory to write the PKI in")
	cmd.Flags().StringVar(&keyType, "key-type", certs.KeyTypeECDSA, "ecdsa or rsa")
	return cmd
}
