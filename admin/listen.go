package admin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// ServerTLS is the admin listener's TLS configuration: its certificate,
// and a client certificate from the operator CA, always.
func ServerTLS(c config.Admin) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("admin.cert_file/admin.key_file: %w", err)
	}
	pool, err := loadPool("admin.operator_ca_file", c.OperatorCAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// ClientTLS is kmipctl's side: the operator certificate, and the CA that
// verifies the admin listener.
func ClientTLS(c config.Admin, serverName string) (*tls.Config, error) {
	if c.OperatorCertFile == "" || c.OperatorKeyFile == "" {
		return nil, errors.New("admin.operator_cert_file/admin.operator_key_file: not set in the configuration (kmipctl dev init writes them)")
	}
	cert, err := tls.LoadX509KeyPair(c.OperatorCertFile, c.OperatorKeyFile)
	if err != nil {
		return nil, fmt.Errorf("admin.operator_cert_file/admin.operator_key_file: %w", err)
	}
	pool, err := loadPool("admin.server_ca_file", c.ServerCAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

func loadPool(key, path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, fmt.Errorf("%s: required", key)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in %s", key, path)
	}
	return pool, nil
}

// Serve runs the admin API on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
