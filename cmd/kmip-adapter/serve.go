package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	_ "github.com/kmip-adapter/kmip-adapter/backend/hpcs"   // registers the hpcs backend
	_ "github.com/kmip-adapter/kmip-adapter/backend/pkcs11" // registers the pkcs11 backend
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/metrics"
	"github.com/kmip-adapter/kmip-adapter/store"
)

func serveCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the KMIP listener",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cli.LoadConfig(configPath, cmd.Flags(), map[string]string{
				"server.listen":  "listen",
				"metrics.listen": "metrics-listen",
				"admin.listen":   "admin-listen",
				"log.level":      "log-level",
				"log.format":     "log-format",
			})
			if err != nil {
				return err
			}
			log := cli.Logger(cfg.Log, cmd.ErrOrStderr())
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return serve(ctx, cfg, log)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	cmd.Flags().String("listen", "", "KMIP listen address, host:port (server.listen)")
	cmd.Flags().String("metrics-listen", "", "metrics and health listen address, host:port (metrics.listen)")
	cmd.Flags().String("admin-listen", "", "admin API listen address, host:port (admin.listen)")
	cmd.Flags().String("log-level", "", "trace, debug, info, warn or error (log.level)")
	cmd.Flags().String("log-format", "", "json or console (log.format)")
	return cmd
}

// serve runs the server until ctx is cancelled, then drains it.
func serve(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	ops.Version = cli.Version
	tlsCfg, err := server.TLSConfig(cfg.TLS)
	if err != nil {
		return err
	}
	// The backend logs HSM member events through the logger in ctx.
	be, err := backend.Open(log.WithContext(ctx), cfg.Backend)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer func() {
		// A hung HSM member does not give its calls back: Close gives up
		// after call_timeout and says so, and the process exits anyway.
		if err := be.Close(); err != nil {
			log.Error().Err(err).Msg("backend close")
		}
	}()
	if checker, ok := backend.As[backend.Checker](be); ok {
		var missing []string
		for _, r := range checker.Check(ctx) {
			if !r.OK {
				missing = append(missing, fmt.Sprintf("%s (%s): %s", r.Name, r.Label, r.Detail))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("root of trust check failed (run `kmipctl hsm check` or `kmipctl kms check`): %s", strings.Join(missing, "; "))
		}
	}
	st, err := cli.OpenStore(ctx, cfg.Store)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	if err := ops.MarkNewStore(ctx, st, be); err != nil { // a new store takes no record without a MAC
		return fmt.Errorf("store: %w", err)
	}
	m := metrics.New(cli.Version)
	measuredStore, measuredBackend := m.Store(st), m.Backend(be)
	if n, ok := backend.As[backend.RewrapNotifier](be); ok {
		n.OnRewrap(storeRewrapped(measuredStore, log))
	}

	service := ops.New(ops.Deps{Store: measuredStore, Backend: measuredBackend, BackendType: cfg.Backend.Type, Log: log})
	defer service.Close() // clears the record MAC key
	auditRec, closeAudit, err := openAudit(ctx, cfg, be, measuredStore, log)
	if err != nil {
		return err
	}
	defer closeAudit()
	exec := &server.Executor{Ops: service, Log: log, Audit: auditRec, AuditRequired: cfg.Audit.Required}
	ident, err := startRegistry(ctx, cfg, measuredStore, service, auditRec, log)
	if err != nil {
		return err
	}
	storeWatch := followStoreChanges(ctx, st, ident, service, log)
	srv := server.New(cfg.Server, ident.TLSConfig(tlsCfg), exec, server.ConfiguredIdentity(cfg.Server), log)
	srv.SetConnIdentifier(ident.Identify)
	srv.SetObserver(m)
	if err := m.RegisterParts(be, auditRec, ident, storeWatch, st); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := serveMetrics(ctx, cfg, m, measuredStore, measuredBackend, log); err != nil {
		return err
	}
	go reloadOnHangup(ctx, cfg.TLS, srv, ident, log)

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	log.Info().Str("addr", ln.Addr().String()).Str("version", cli.Version).Str("backend", cfg.Backend.Type).Msg("kmip listener ready")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", cfg.Server.ShutdownTimeout).Msg("shutting down: draining requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("drain incomplete")
	}
	<-errc
	log.Info().Msg("stopped")
	return nil
}

// serveMetrics starts the operations listener (metrics, health, readiness)
// when metrics.listen is set. Ready means the store answers and a root
// of trust can serve (metrics.RootOfTrustReady: an HSM set member is up,
// the KMS answered lately).
func serveMetrics(ctx context.Context, cfg config.Config, m *metrics.Metrics, st store.Store, be backend.Backend, log zerolog.Logger) error {
	if cfg.Metrics.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics.listen: %w", err)
	}
	checks := []metrics.ReadyCheck{
		{Name: "store", Check: func(ctx context.Context) error {
			_, err := st.GetTenant(ctx, cfg.Server.Tenant)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}},
		{Name: "root_of_trust", Check: metrics.RootOfTrustReady(be)},
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("metrics listener ready")
	h := m.Handler(checks, 3*time.Second)
	if cfg.Metrics.Pprof {
		h = metrics.WithPprof(h)
		log.Warn().Str("addr", ln.Addr().String()).Msg("pprof endpoints on /debug/pprof/ (metrics.pprof)")
	}
	go func() {
		if err := metrics.Serve(ctx, ln, h); err != nil {
			log.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	return nil
}

// reloadOnHangup re-reads the TLS certificate, key and trusted CAs and
// reloads the client registry on SIGHUP. New connections use the new
// certificates; open ones keep theirs (their next request is checked
// against the reloaded registry). A file that does not load is refused
// with a log line, and the old configuration stays; so does the old
// registry reading if the store does not answer.
func reloadOnHangup(ctx context.Context, c config.TLS, srv *server.Server, ident *identity.Identity, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := ident.Invalidate(ctx); err != nil {
				log.Error().Err(err).Msg("reload: keeping the current client registry")
			} else {
				log.Info().Msg("reloaded the client registry")
			}
			next, err := server.TLSConfig(c)
			if err != nil {
				log.Error().Err(err).Msg("reload refused: keeping the current certificates")
				continue
			}
			srv.SetTLSConfig(ident.TLSConfig(next))
			log.Info().Msg("reloaded certificates and trusted CAs")
		}
	}
}
