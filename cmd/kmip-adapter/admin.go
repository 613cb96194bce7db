package main

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// serveAdmin starts the admin API listener when admin.listen is set.
func serveAdmin(ctx context.Context, cfg config.Config, st store.Store, reg store.Registry, service *ops.Service, ident *identity.Identity, rec audit.Recorder, log zerolog.Logger) error {
	a := cfg.Admin
	if a.Listen == "" {
		return nil
	}
	if reg == nil {
		return fmt.Errorf("admin.listen: the %s store keeps no client registry", cfg.Store.Type)
	}
	if a.OperatorCAFile == cfg.TLS.ClientCAFile {
		log.Warn().Msg("admin.operator_ca_file is tls.client_ca_file: every KMIP client certificate can reach the admin API; give operators a CA of their own")
	}
	tlsCfg, err := admin.ServerTLS(a)
	if err != nil {
		return err
	}
	var issuer *certs.CA
	caPEM, err := os.ReadFile(cfg.TLS.CertFile)
	if err != nil {
		return fmt.Errorf("tls.cert_file: %w", err)
	}
	if a.IssuerCertFile != "" {
		if issuer, err = certs.LoadCA(a.IssuerCertFile, a.IssuerKeyFile); err != nil {
			return fmt.Errorf("admin.issuer_cert_file: %w", err)
		}
		caPEM = issuer.CertPEM()
	}
	api := admin.New(admin.Deps{
		Store: st, Registry: reg, Tenants: service, Identity: ident, BackendTypes: cfg.Backend.EnabledTypes(),
		Issuer: issuer, ServerCAPEM: caPEM, Audit: rec, Log: log,
	})
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen: %w", err)
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("admin listener ready")
	go func() {
		if err := admin.Serve(ctx, ln, tlsCfg, api); err != nil {
			log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	return nil
}
