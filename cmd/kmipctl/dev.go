package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// DevTokenLabel is the SoftHSM2 token that `dev init` provisions.
const DevTokenLabel = "kmip-adapter-dev"

func devCmd() *cobra.Command {
	dev := &cobra.Command{Use: "dev", Short: "Development environment"}
	var dir, listen, module, storeSpec string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare a development environment: SoftHSM2 token with the BYOHSM key set, PKI, config",
		Long: `init prepares DIR (idempotent: what exists is kept, what is missing is made):

  DIR/softhsm/   a SoftHSM2 token "` + DevTokenLabel + `" holding MKEK, SKEY, IKEY and ten TKEK pairs,
                 its softhsm2.conf and PIN files (mode 0600)
  DIR/pki/       ca.crt ca.key server.crt server.key client.crt client.key, and the
                 admin API's operator CA and certificate (operator-ca.crt, operator.crt/key)
  DIR/data/      the embedded store, or with --store postgres://... the DSN file
                 (postgres.dsn) of a PostgreSQL store shared by several nodes: start a
                 second node with kmip-adapter serve --config DIR/config.yaml --listen ADDR2
                 --metrics-listen ADDR3 --admin-listen ADDR4
  DIR/audit/     the audit log (audit.log and its sealed key audit.log.key), made at the
                 first start; check it with kmipctl audit verify --config DIR/config.yaml
                 (not with --store postgres://...: its nodes would share one log)
  DIR/config.yaml  the server configuration pointing at all of it

With --backend hpcs --kms-url URL the default tenant's root of trust is a KMS
root key instead of the SoftHSM2 token (no token is made): URL is a
` + "`kmipctl dev kms`" + ` stand-in, which tells the instance id, root key and API key
(written to DIR/kms-api-key), or a real KMS with --kms-instance-id,
--kms-root-key and --kms-api-key-file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return devInit(cmd.Context(), cmd, dir, listen, module, storeSpec, cmd.Flags().Changed("listen"))
		},
	}
	initCmd.Flags().StringVar(&dir, "dir", ".dev", "directory of the environment")
	initCmd.Flags().StringVar(&listen, "listen", config.Default().Server.Listen, "KMIP listen address written to the configuration")
	initCmd.Flags().StringVar(&module, "module", config.Default().Backend.PKCS11.Module, "SoftHSM2 PKCS#11 module")
	initCmd.Flags().StringVar(&storeSpec, "store", "bbolt", "object store: bbolt (DIR/data/store.db), or a PostgreSQL DSN (postgres://USER@HOST:PORT/DATABASE)")
	initCmd.Flags().Int("hsm-members", 0, "make an HA set of N copies of the token, each behind its own p11-kit server (DIR/hsm/1..N); see kmipctl dev hsm")
	initCmd.Flags().String("backend", "pkcs11", "root of trust of the default tenant: pkcs11 (a SoftHSM2 token) or hpcs (a KMS, see --kms-url)")
	initCmd.Flags().String("kms-url", "", "with --backend hpcs: the KMS API URL (kmipctl dev kms prints one)")
	initCmd.Flags().String("kms-iam-url", "", "with --backend hpcs: the IAM token URL (default: the stand-in's, or IBM Cloud IAM)")
	initCmd.Flags().String("kms-instance-id", "", "with --backend hpcs: the instance id (default: asked of the stand-in)")
	initCmd.Flags().String("kms-root-key", "", "with --backend hpcs: the root key id (default: the stand-in's first root key)")
	initCmd.Flags().String("kms-api-key-file", "", "with --backend hpcs: a file holding the API key (default: asked of the stand-in, written to DIR/kms-api-key)")
	dev.AddCommand(initCmd, devHSMCmd(), devKMSCmd())
	return dev
}

func devInit(ctx context.Context, cmd *cobra.Command, dir, listen, module, storeSpec string, listenSet bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return fmt.Errorf("--listen: %q is not host:port", listen)
	}
	backendType, _ := cmd.Flags().GetString("backend")
	if backendType != "pkcs11" && backendType != "hpcs" {
		return fmt.Errorf("--backend: %q is not pkcs11 or hpcs", backendType)
	}
	if _, err := os.Stat(module); err != nil && backendType == "pkcs11" {
		return fmt.Errorf("--module: %s not found: install SoftHSM2 (apt-get install softhsm2)", module)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	out := cmd.OutOrStdout()

	hsmDir := filepath.Join(dir, "softhsm")
	var conf, userPIN, soPIN string
	if backendType == "pkcs11" {
		if conf, err = pkcs11.WriteSoftHSM2Conf(hsmDir); err != nil {
			return fmt.Errorf("softhsm2.conf: %w", err)
		}
		// The module reads SOFTHSM2_CONF when it is loaded, in this process.
		if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
			return err
		}
		if userPIN, err = pinFile(filepath.Join(hsmDir, "user.pin")); err != nil {
			return err
		}
		if soPIN, err = pinFile(filepath.Join(hsmDir, "so.pin")); err != nil {
			return err
		}
	}

	cfg := config.Default()
	cfg.Server.Listen = listen
	cfg.TLS.CertFile = filepath.Join(dir, "pki", "server.crt")
	cfg.TLS.KeyFile = filepath.Join(dir, "pki", "server.key")
	cfg.TLS.ClientCAFile = filepath.Join(dir, "pki", "ca.crt")
	p := &cfg.Backend.PKCS11
	p.Module = module
	p.TokenLabel = DevTokenLabel
	p.PIN = config.Secret{File: filepath.Join(hsmDir, "user.pin")}
	p.SoftHSM2Conf = conf
	if backendType == "hpcs" {
		cfg.Backend = config.Default().Backend
		cfg.Backend.Type = "hpcs"
		if cfg.Backend.HPCS, err = devKMSConfig(ctx, cmd, dir); err != nil {
			return err
		}
		listenSet = true // the configuration names the KMS: rewrite it
	}
	if cfg.Store, err = devStore(ctx, dir, storeSpec); err != nil {
		return err
	}
	listenSet = listenSet || cfg.Store.Type != "bbolt" // the configuration names the store: rewrite it
	cfg.Log.Format = "console"
	if cfg.Store.Type == "bbolt" {
		// Its key file is made at the first start. Not with a shared
		// PostgreSQL store: the nodes started on this one configuration
		// would share the log, and each needs its own.
		cfg.Audit.Path = filepath.Join(dir, "audit", "audit.log")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	if backendType == "hpcs" {
		if err := checkKMS(ctx, cfg.Backend.HPCS); err != nil {
			return fmt.Errorf("--kms-url: %w", err)
		}
		fmt.Fprintf(out, "kms      %s instance %s, root key %s\n", cfg.Backend.HPCS.URL, cfg.Backend.HPCS.InstanceID, cfg.Backend.HPCS.RootKeyID)
	} else if err := pkcs11.Provision(ctx, pkcs11.ProvisionOptions{PKCS11: *p, SOPIN: soPIN, UserPIN: userPIN}); err != nil {
		return fmt.Errorf("provision SoftHSM2 token: %w", err)
	} else {
		fmt.Fprintf(out, "token    %s in %s: MKEK, SKEY, IKEY, %d TKEK pairs\n", DevTokenLabel, hsmDir, p.TKEKCount)
	}
	if n, _ := cmd.Flags().GetInt("hsm-members"); n > 0 && backendType == "pkcs11" {
		if p.Members, err = devHSMSet(out, dir, hsmDir, module, DevTokenLabel, n); err != nil {
			return fmt.Errorf("--hsm-members: %w", err)
		}
		p.SoftHSM2Conf = "" // the servers load SoftHSM2; the adapter loads p11-kit-client
		listenSet = true    // the configuration names the members: rewrite it
	}

	host, _, _ := net.SplitHostPort(listen)
	var hosts []string
	if host != "" && host != "localhost" && host != "127.0.0.1" && host != "::1" && host != "0.0.0.0" && host != "::" {
		hosts = append(hosts, host)
	}
	if err := certs.DevPKI(filepath.Join(dir, "pki"), certs.DevPKIOptions{Hosts: hosts}); err != nil {
		return fmt.Errorf("development PKI: %w", err)
	}
	fp, err := vcenterClient(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("vCenter client certificate: %w", err)
	}
	cfg.Server.VSphereClients = []string{fp}
	if cfg.Admin, err = devAdmin(filepath.Join(dir, "pki"), listen); err != nil {
		return fmt.Errorf("operator certificate: %w", err)
	}
	fmt.Fprintf(out, "pki      %s: ca.crt, server.crt/key, client.crt/key, vcenter.crt/key (vsphere profile)\n", filepath.Join(dir, "pki"))

	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if _, err := os.Stat(cfgPath); errors.Is(err, fs.ErrNotExist) || listenSet {
		body, err := cli.RenderYAML(cfg, "kmip-adapter development configuration, written by `kmipctl dev init`.\nStart with: kmip-adapter serve --config "+cfgPath)
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfgPath, body, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(out, "config   %s (listen %s)\n", cfgPath, listen)
	} else {
		fmt.Fprintf(out, "config   %s kept\n", cfgPath)
	}
	fmt.Fprintf(out, "\nstart the server: kmip-adapter serve --config %s\n", cfgPath)
	fmt.Fprintf(out, "then manage tenants and clients: kmipctl tenant list --config %s\n", cfgPath)
	if cfg.Store.Type == "postgres" {
		fmt.Fprintf(out, "a second node on the same store: kmip-adapter serve --config %s --listen HOST:PORT2 --metrics-listen HOST:PORT3 --admin-listen HOST:PORT4\n", cfgPath)
	}
	return nil
}

// vcenterClient makes pki/vcenter.crt and vcenter.key once: a client with
// the vsphere profile, so that the vCenter flow (keys Active on Create)
// can be tried at once. It returns the certificate's fingerprint.
func vcenterClient(pki string) (string, error) {
	certPath, keyPath := filepath.Join(pki, "vcenter.crt"), filepath.Join(pki, "vcenter.key")
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		ca, err := certs.LoadCA(filepath.Join(pki, certs.CACertFile), filepath.Join(pki, certs.CAKeyFile))
		if err != nil {
			return "", err
		}
		certPEM, keyPEM, err := ca.IssueClient("vcenter", certs.KeyTypeRSA)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			return "", err
		}
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			return "", err
		}
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return "", err
	}
	return server.Fingerprint(cert), nil
}

// pinFile returns the PIN in path, making a random one first if the file
// does not exist.
func pinFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if pin := strings.TrimSpace(string(b)); pin != "" {
			return pin, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	pin := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(pin+"\n"), 0o600); err != nil {
		return "", err
	}
	return pin, nil
}
