// Command kmipctl is the operator CLI of kmip-adapter: development set-up,
// root-of-trust checks, and (in later releases) tenants, clients,
// certificates, KMIP calls and benchmarks.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
)

func main() {
	root := &cobra.Command{
		Use:           "kmipctl",
		Short:         "Operate a kmip-adapter: development set-up, HSM checks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(devCmd(), hsmCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "kmipctl", cli.Version) },
	})
	root.AddCommand(kmipCmd(), benchCmd())
	root.AddCommand(storeCmd())
	root.AddCommand(auditCmd())
	root.AddCommand(kmsCmd())
	root.AddCommand(tenantCmd(), clientCmd(), caCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kmipctl:", err)
		os.Exit(1)
	}
}
