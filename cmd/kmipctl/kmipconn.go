package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// target is where a KMIP command connects and as whom: flags of their
// own, or the --config of a development environment (its listen address,
// and the client certificate that `kmipctl dev init` put beside the
// server's in pki/).
type target struct {
	addr, ca, cert, key string
	configPath          string
	clientName          string
	serverName          string
	version             string
	timeout             time.Duration
	compat              bool
}

func (t *target) flags(f *pflag.FlagSet) {
	f.StringVar(&t.addr, "addr", "", "KMIP server address, host:port (default: server.listen of --config, else 127.0.0.1:5696)")
	f.StringVar(&t.ca, "ca", "", "PEM CA certificate(s) the server certificate must chain to")
	f.StringVar(&t.cert, "cert", "", "PEM client certificate")
	f.StringVar(&t.key, "key", "", "PEM client private key")
	f.StringVar(&t.configPath, "config", "", "configuration of a development environment (kmipctl dev init): address and PKI from it")
	f.StringVar(&t.clientName, "client", "client", "with --config: the certificate pki/NAME.crt and key pki/NAME.key (client, vcenter)")
	f.StringVar(&t.serverName, "server-name", "", "name checked in the server certificate (default: the host of --addr)")
	f.StringVar(&t.version, "version", "1.4", "KMIP protocol version of the requests: 1.0 .. 2.1")
	f.StringVar(&t.version, "kmip-version", "1.4", "same as --version")
	_ = f.MarkHidden("kmip-version")
	f.DurationVar(&t.timeout, "timeout", 30*time.Second, "TLS handshake and per-request timeout")
	f.BoolVar(&t.compat, "tls-compat", false, "also offer the KMIP profile suites with RSA key exchange (servers that offer nothing else)")
}

// resolve fills what flags left empty from the --config environment.
func (t *target) resolve() error {
	if t.configPath != "" {
		cfg, err := cli.LoadConfig(t.configPath, nil, nil)
		if err != nil {
			return err
		}
		if t.addr == "" {
			host, port, err := net.SplitHostPort(cfg.Server.Listen)
			if err != nil {
				return fmt.Errorf("server.listen of %s: %w", t.configPath, err)
			}
			if port == "0" {
				return fmt.Errorf("server.listen of %s has port 0 (chosen at start): give the server's address with --addr", t.configPath)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			t.addr = net.JoinHostPort(host, port)
		}
		pki := filepath.Dir(cfg.TLS.CertFile)
		if t.ca == "" {
			// The development CA issued the server certificate too; a
			// production configuration may list other client CAs.
			t.ca = filepath.Join(pki, certs.CACertFile)
			if _, err := os.Stat(t.ca); err != nil {
				t.ca = cfg.TLS.ClientCAFile
			}
		}
		if t.cert == "" {
			t.cert = filepath.Join(pki, t.clientName+".crt")
		}
		if t.key == "" {
			t.key = filepath.Join(pki, t.clientName+".key")
		}
	}
	if t.addr == "" {
		t.addr = "127.0.0.1:5696"
	}
	if t.ca == "" || t.cert == "" || t.key == "" {
		return errors.New("give --ca, --cert and --key, or --config of a development environment")
	}
	return nil
}

// kmipVersion parses a "major.minor" protocol version.
func kmipVersion(s string) (message.Version, error) {
	maj, min, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		return message.Version{}, fmt.Errorf("--version: %q is not major.minor", s)
	}
	v := message.Version{Major: int32(a), Minor: int32(b)}
	if !v.IsSupported() {
		return message.Version{}, fmt.Errorf("--version: %s is not a KMIP version this client speaks (1.0 .. 2.1)", v)
	}
	return v, nil
}

// dialer is a resolved target: what every connection of a command uses.
type dialer struct {
	addr string
	tls  *tls.Config
	opts client.Options
}

func (t *target) dialer() (*dialer, error) {
	if err := t.resolve(); err != nil {
		return nil, err
	}
	v, err := kmipVersion(t.version)
	if err != nil {
		return nil, err
	}
	cfg, err := client.TLSConfig(client.TLSOptions{CAFile: t.ca, CertFile: t.cert, KeyFile: t.key, ServerName: t.serverName, Compat: t.compat})
	if err != nil {
		return nil, err
	}
	return &dialer{addr: t.addr, tls: client.ForAddr(cfg, t.addr), opts: client.Options{Version: v, Timeout: t.timeout}}, nil
}

func (d *dialer) dial(ctx context.Context) (*client.Conn, error) {
	return client.Dial(ctx, d.addr, d.tls, d.opts)
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
