package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
)

// adminFlags are the flags of every command that calls the admin API.
type adminFlags struct {
	config string
	addr   string
	json   bool
}

func (f *adminFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "the server's configuration file: kmipctl reads the admin API address (admin.listen) and the operator certificate (admin.operator_cert_file, admin.operator_key_file, admin.server_ca_file) from it")
	cmd.PersistentFlags().StringVar(&f.addr, "admin", "", "admin API address host:port (default: admin.listen of --config)")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON")
}

// client connects to the admin API that --config (and --admin) name.
func (f *adminFlags) client(cmd *cobra.Command) (*admin.APIClient, context.Context, error) {
	if f.config == "" {
		return nil, nil, errors.New("--config: required (the server's configuration file, e.g. .dev/config.yaml)")
	}
	cfg, err := cli.LoadConfig(f.config, cmd.Flags(), nil)
	if err != nil {
		return nil, nil, err
	}
	addr := f.addr
	if addr == "" {
		addr = cfg.Admin.Listen
	}
	if addr == "" {
		return nil, nil, fmt.Errorf("admin.listen: not set in %s, and no --admin address given", f.config)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("admin address %q is not host:port", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	tlsCfg, err := admin.ClientTLS(cfg.Admin, host)
	if err != nil {
		return nil, nil, err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return admin.NewClient(net.JoinHostPort(host, port), tlsCfg), ctx, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readSecretFile reads a password from a file (trailing newline removed),
// or from standard input for "-".
func readSecretFile(path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	return s, nil
}
