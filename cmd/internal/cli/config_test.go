package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// validYAML is the smallest configuration that passes Validate.
const validYAML = `
tls:
  cert_file: /x/server.crt
  key_file: /x/server.key
  client_ca_file: /x/ca.crt
backend:
  pkcs11:
    token_label: t
    pin:
      env: PIN
store:
  path: /x/store.db
`

func writeConfig(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadConfigLayers(t *testing.T) {
	path := writeConfig(t, validYAML+"server:\n  listen: 127.0.0.1:7000\n  read_timeout: 5s\n")
	t.Setenv("KMIP_ADAPTER_SERVER_MAX_CONNECTIONS", "7")
	t.Setenv("KMIP_ADAPTER_SERVER_LISTEN", "127.0.0.1:8000")
	flags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags.String("listen", "", "")
	flags.String("log-level", "", "")
	require.NoError(t, flags.Parse([]string{"--log-level", "debug"}))

	cfg, err := LoadConfig(path, flags, map[string]string{"server.listen": "listen", "log.level": "log-level"})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8000", cfg.Server.Listen, "environment beats the file")
	assert.Equal(t, 5*time.Second, cfg.Server.ReadTimeout, "file beats the default")
	assert.Equal(t, 7, cfg.Server.MaxConnections, "environment sets a key the file lacks")
	assert.Equal(t, "debug", cfg.Log.Level, "flag set")
	assert.Equal(t, "PIN", cfg.Backend.PKCS11.PIN.Env)
	assert.Equal(t, config.Default().Server.IdleTimeout, cfg.Server.IdleTimeout, "default kept")

	t.Setenv("KMIP_ADAPTER_SERVER_VSPHERE_CLIENTS", "cn:vc1, cn:vc2")
	cfg, err = LoadConfig(path, flags, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"cn:vc1", "cn:vc2"}, cfg.Server.VSphereClients, "a list from the environment is comma-separated")

	require.NoError(t, flags.Parse([]string{"--listen", "127.0.0.1:9000"}))
	cfg, err = LoadConfig(path, flags, map[string]string{"server.listen": "listen"})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9000", cfg.Server.Listen, "flag beats the environment")
}

func TestLoadConfigRefusesWithOneLineNamingTheKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  [2]string
		key  string
	}{
		{"unknown key", validYAML + "server:\n  lisen: x\n", [2]string{}, `"server.lisen"`},
		{"unknown section", validYAML + "serverz:\n  listen: x\n", [2]string{}, `"serverz.listen"`},
		{"integer that is not", validYAML + "server:\n  max_connections: abc\n", [2]string{}, "server.max_connections"},
		{"duration that is not", validYAML + "server:\n  idle_timeout: soon\n", [2]string{}, "server.idle_timeout"},
		{"bad listen from the environment", validYAML, [2]string{"KMIP_ADAPTER_SERVER_LISTEN", "bad"}, "server.listen"},
		{"bad enumeration", strings.Replace(validYAML, "tls:", "tls:\n  cipher_preset: weak", 1), [2]string{}, "tls.cipher_preset"},
		{"duplicate section", validYAML + "tls:\n  min_version: \"1.3\"\n", [2]string{}, `"tls" already defined`},
		{"both pin sources", strings.Replace(validYAML, "env: PIN", "env: PIN\n      file: /x/pin", 1), [2]string{}, "backend.pkcs11.pin"},
		{"mutual TLS cannot be turned off", strings.Replace(validYAML, "client_ca_file: /x/ca.crt", "", 1), [2]string{}, "tls.client_ca_file"},
		{"bad vSphere client", strings.Replace(validYAML, "tls:", "server:\n  vsphere_clients: [vcenter]\ntls:", 1), [2]string{}, "server.vsphere_clients"},
		{"unknown backend", strings.Replace(validYAML, "backend:", "backend:\n  type: vault", 1), [2]string{}, "backend.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env[0] != "" {
				t.Setenv(tt.env[0], tt.env[1])
			}
			_, err := LoadConfig(writeConfig(t, tt.yaml), pflag.NewFlagSet("x", pflag.ContinueOnError), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.key)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestRenderYAMLReadsBackTheSame(t *testing.T) {
	cfg := config.Default()
	cfg.TLS = config.TLS{CertFile: "/a", KeyFile: "/b", ClientCAFile: "/c", MinVersion: "1.3", CipherPreset: "kmip-compat"}
	cfg.Backend.PKCS11.TokenLabel = "tok"
	cfg.Backend.PKCS11.PIN.File = "/pin"
	cfg.Backend.PKCS11.Mechanisms.KeyWrapPad = 0x80000171
	cfg.Store.Path = "/s.db"
	cfg.Server.IdleTimeout = 90 * time.Second
	cfg.Server.VSphereClients = []string{"cn:vcenter", "sha256:" + strings.Repeat("ab", 32)}
	body, err := RenderYAML(cfg, "header")
	require.NoError(t, err)
	got, err := LoadConfig(writeConfig(t, string(body)), pflag.NewFlagSet("x", pflag.ContinueOnError), nil)
	require.NoError(t, err)
	assert.Equal(t, cfg, got)
}
