//go:build !unix

package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// devHSMSet needs p11-kit servers and process groups: unix only.
func devHSMSet(io.Writer, string, string, string, string, int) ([]string, error) {
	return nil, errors.New("--hsm-members: p11-kit servers are only supported on unix systems")
}

func devHSMCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hsm",
		Short: "Stop and start the members of a development HA set (unix only)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("dev hsm: p11-kit servers are only supported on unix systems")
		},
	}
}
