// Command kmip-adapter is the KMIP server: `kmip-adapter serve --config FILE`.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
)

func main() {
	root := &cobra.Command{
		Use:           "kmip-adapter",
		Short:         "KMIP server whose keys stay under the customer's root of trust",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "kmip-adapter", cli.Version) },
	})
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kmip-adapter:", err)
		os.Exit(1)
	}
}
