package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs"
	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/metrics"
)

// kmsCmd is `kmipctl kms`: the KMS root of trust (backend.hpcs).
func kmsCmd() *cobra.Command {
	kms := &cobra.Command{Use: "kms", Short: "Root of trust in IBM HPCS / Key Protect (backend hpcs)"}
	var configPath string
	check := &cobra.Command{
		Use:   "check",
		Short: "Check the KMS: IAM token, root key state, a wrap/unwrap round trip",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmdContext(cmd)
			cfg, err := cli.LoadConfig(configPath, cmd.Flags(), nil)
			if err != nil {
				return err
			}
			be, err := openKMS(ctx, cfg)
			if err != nil {
				return err
			}
			defer be.Close()
			results := be.Check(ctx)
			failed := printChecks(cmd.OutOrStdout(), "CHECK\tROOT KEY\tSTATUS\tDETAIL", results, "FAILED")
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed", failed, len(results))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "all %d checks passed\n", len(results))
			return nil
		},
	}
	check.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")

	var rewrapConfig, rewrapProgress string
	var rewrapStatus bool
	rewrap := &cobra.Command{
		Use:   "rewrap",
		Short: "After a root key rotation: rewrap every tenant key under the newest root key version (resumable)",
		Long: `rewrap moves every tenant key of the hpcs backend onto the newest version of
the configured root key (backend.hpcs.root_key_id), with the KMS's rewrap
action: the tenant KEKs do not change and never leave the KMS in the clear,
so every object keeps opening.

The server does this lazily too (the first unwrap after a rotation stores
the rewrapped key); this command does it for every tenant now, for example
before an old root key version or an old root key is retired. Changing
root_key_id to another root key and running this command moves every tenant
to it (unwrap with the old, wrap with the new), except a tenant created with
a root key of its own (tenant create --root), which stays under that one.

Each tenant is rewrapped and written on its own, and the run's progress is kept
in the store, so a run that stops is finished by running it again: it resumes
after the last tenant recorded (--status prints the progress). With the embedded (bbolt) store, stop the
server first (the file is locked); with PostgreSQL it runs beside the servers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmdContext(cmd)
			cfg, err := cli.LoadConfig(rewrapConfig, cmd.Flags(), nil)
			if err != nil {
				return err
			}
			if rewrapStatus {
				return jobStatus(ctx, cmd.OutOrStdout(), cfg.Store, "kms_rewrap")
			}
			be, err := openKMS(ctx, cfg)
			if err != nil {
				return err
			}
			defer be.Close()
			v, err := be.RefreshRootVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "root key %s: newest version %s\n", cfg.Backend.HPCS.RootKeyID, v)
			st, err := cli.OpenStore(ctx, cfg.Store)
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer st.Close()
			return rotate(ctx, cmd.OutOrStdout(), st, be, hpcs.Type, "kms_rewrap", metrics.NewJobFile(rewrapProgress, "kms_rewrap"))
		},
	}
	rewrap.Flags().StringVar(&rewrapConfig, "config", "", "configuration file (YAML)")
	rewrap.Flags().StringVar(&rewrapProgress, "progress-file", "", progressFileUsage)
	rewrap.Flags().BoolVar(&rewrapStatus, "status", false, statusUsage)
	kms.AddCommand(check, rewrap)
	return kms
}

// openKMS opens the hpcs backend of a configuration, whether it is the
// default type or one of backend.types.
func openKMS(ctx context.Context, cfg config.Config) (*hpcs.Backend, error) {
	enabled := false
	for _, t := range cfg.Backend.EnabledTypes() {
		enabled = enabled || t == hpcs.Type
	}
	if !enabled {
		return nil, errors.New("backend: the configuration does not use the hpcs backend (backend.type or backend.types)")
	}
	return hpcs.Open(ctx, cfg.Backend.HPCS, hpcs.Options{})
}

var _ rewrapper = (*hpcs.Backend)(nil)

// devKMSCmd is `kmipctl dev kms`: the KMS stand-in on a TCP address.
func devKMSCmd() *cobra.Command {
	var listen, dir string
	cmd := &cobra.Command{
		Use:   "kms",
		Short: "Run a local stand-in of the HPCS / Key Protect KMS API (development and tests)",
		Long: `kms serves a local stand-in of the IBM Key Protect / HPCS KMS API and of the
IAM token endpoint, over plain HTTP on a loopback address, until interrupted.
Its keys, instance id and API key are kept in DIR/kms-state.json (key material
in the clear: development only); a root key is made on first start. It prints
the URL, the instance id, the API key file and the root key id, which
` + "`kmipctl dev init --backend hpcs --kms-url URL`" + ` also reads from the stand-in.

Faults for tests: POST URL/kmsdev/faults with {"status":503,"for":"10s"},
{"status":429,"count":3} or {"latency":"200ms"}; {} clears them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen: %q is not host:port", listen)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Errorf("--listen: %s is not a loopback address: the stand-in speaks plain HTTP and hands its API key to loopback clients", host)
			}
			if dir, err = filepath.Abs(dir); err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			kms, err := kmsdev.New(kmsdev.Config{StateFile: filepath.Join(dir, "kms-state.json")})
			if err != nil {
				return err
			}
			roots := kms.RootKeyIDs()
			if len(roots) == 0 {
				roots = []string{kms.CreateRootKey("kmip-adapter-root")}
			}
			keyFile := filepath.Join(dir, "kms-api-key")
			if err := os.WriteFile(keyFile, []byte(kms.APIKey()+"\n"), 0o600); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			u := "http://" + ln.Addr().String()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "url          %s\n", u)
			fmt.Fprintf(out, "iam_url      %s/identity/token\n", u)
			fmt.Fprintf(out, "instance_id  %s\n", kms.InstanceID())
			fmt.Fprintf(out, "api_key_file %s\n", keyFile)
			fmt.Fprintf(out, "root_key_id  %s\n", roots[0])
			fmt.Fprintf(out, "ready\n")
			srv := &http.Server{Handler: kms, ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8200", "address to serve on (loopback only)")
	cmd.Flags().StringVar(&dir, "dir", ".dev/kms", "directory of the stand-in's state and API key file")
	return cmd
}

// devKMSConfig fills the hpcs section for `dev init --backend hpcs`: the
// instance id, root key and API key come from the flags, or else from the
// stand-in at --kms-url (GET /kmsdev/info); the API key is written to
// DIR/kms-api-key (mode 0600) unless --kms-api-key-file names one.
func devKMSConfig(ctx context.Context, cmd *cobra.Command, dir string) (config.HPCS, error) {
	flag := func(name string) string { v, _ := cmd.Flags().GetString(name); return v }
	h := config.Default().Backend.HPCS
	h.URL = strings.TrimRight(flag("kms-url"), "/")
	if h.URL == "" {
		return h, errors.New("--kms-url: required with --backend hpcs (run kmipctl dev kms for a local stand-in)")
	}
	if _, err := url.Parse(h.URL); err != nil {
		return h, fmt.Errorf("--kms-url: %w", err)
	}
	h.IAMURL = flag("kms-iam-url")
	h.InstanceID, h.RootKeyID = flag("kms-instance-id"), flag("kms-root-key")
	keyFile := flag("kms-api-key-file")
	if h.InstanceID == "" || h.RootKeyID == "" || keyFile == "" {
		info, err := kmsInfo(ctx, h.URL)
		if err != nil {
			return h, fmt.Errorf("--kms-url: %w (against a real KMS give --kms-instance-id, --kms-root-key and --kms-api-key-file)", err)
		}
		if h.IAMURL == "" {
			h.IAMURL = h.URL + info.IAMPath
		}
		if h.InstanceID == "" {
			h.InstanceID = info.InstanceID
		}
		if h.RootKeyID == "" {
			if len(info.RootKeys) == 0 {
				return h, errors.New("--kms-url: the stand-in has no root key")
			}
			h.RootKeyID = info.RootKeys[0]
		}
		if keyFile == "" {
			keyFile = filepath.Join(dir, "kms-api-key")
			if err := os.WriteFile(keyFile, []byte(info.APIKey+"\n"), 0o600); err != nil {
				return h, err
			}
		}
	}
	if h.IAMURL == "" {
		h.IAMURL = config.Default().Backend.HPCS.IAMURL
	}
	h.APIKey = config.Secret{File: keyFile}
	return h, nil
}

func kmsInfo(ctx context.Context, base string) (kmsdev.Info, error) {
	var info kmsdev.Info
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/kmsdev/info", nil)
	if err != nil {
		return info, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return info, fmt.Errorf("ask the stand-in: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("ask the stand-in: %s (is it kmipctl dev kms?)", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return info, fmt.Errorf("ask the stand-in: %w", err)
	}
	return info, nil
}

// checkKMS runs the backend's check once for dev init, so that a wrong
// URL or key is found now rather than at the server's start.
func checkKMS(ctx context.Context, h config.HPCS) error {
	be, err := hpcs.Open(ctx, h, hpcs.Options{})
	if err != nil {
		return err
	}
	defer be.Close()
	var failed []string
	for _, r := range be.Check(ctx) {
		if !r.OK {
			failed = append(failed, r.Name+": "+r.Detail)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("KMS check failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

var _ backend.Checker = (*hpcs.Backend)(nil)
