// Package config is the adapter's typed configuration: one plain struct with
// nested sections, defaults, and Validate. Reading files, environment
// variables and flags happens in cmd/ (viper); nothing here knows about it.
//
// Secrets never sit in the struct as literals: a PIN or API key is named by
// a file path or an environment variable and read with Secret.Value.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Config is the whole configuration of kmip-adapter. The mapstructure tags
// are the YAML keys; KMIP_ADAPTER_<SECTION>_<KEY> environment variables map
// onto them (for example KMIP_ADAPTER_SERVER_LISTEN).
type Config struct {
	Server  Server  `mapstructure:"server"`
	TLS     TLS     `mapstructure:"tls"`
	Backend Backend `mapstructure:"backend"`
	Store   Store   `mapstructure:"store"`
	Log     Log     `mapstructure:"log"`
	Metrics Metrics `mapstructure:"metrics"`
}

// Metrics configures the operations listener: Prometheus metrics on
// /metrics, liveness on /healthz, readiness on /readyz. Plain HTTP: bind it
// to a management network or loopback.
type Metrics struct {
	// Listen is host:port; empty turns the listener off.
	Listen string `mapstructure:"listen"`
}

// Server configures the KMIP listener.
type Server struct {
	// Listen is the KMIP address, host:port (5696 is the IANA port).
	Listen string `mapstructure:"listen"`
	// MaxMessageSize is the largest request accepted, in bytes; a longer
	// frame is refused from its header, before its body is read.
	MaxMessageSize int `mapstructure:"max_message_size"`
	// ReadTimeout bounds reading one request once its first byte arrived.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds writing one response.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout closes a connection that sends nothing for this long.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// HandshakeTimeout bounds the TLS handshake.
	HandshakeTimeout time.Duration `mapstructure:"handshake_timeout"`
	// MaxConnections limits open client connections; more are refused.
	MaxConnections int `mapstructure:"max_connections"`
	// ShutdownTimeout bounds draining in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// Tenant is the tenant every authenticated client belongs to until the
	// client registry (tenants and clients) is configured.
	Tenant string `mapstructure:"tenant"`
	// VSphereClients are the client certificates that get the vsphere
	// profile (a created key is Active at once, since vCenter never calls
	// Activate): "sha256:HEX" fingerprints of the certificate, or
	// "cn:NAME" subject common names.
	VSphereClients []string `mapstructure:"vsphere_clients"`
}

// TLS configures the mutual TLS of the KMIP listener.
type TLS struct {
	CertFile     string `mapstructure:"cert_file"`
	KeyFile      string `mapstructure:"key_file"`
	ClientCAFile string `mapstructure:"client_ca_file"`
	// MinVersion is "1.2" or "1.3".
	MinVersion string `mapstructure:"min_version"`
	// CipherPreset is "strict" (ECDHE with AEAD only) or "kmip-compat"
	// (adds the KMIP profile suites, including RSA key exchange with CBC,
	// for appliances that offer nothing else).
	CipherPreset string `mapstructure:"cipher_preset"`
}

// Backend selects and configures the root of trust.
type Backend struct {
	// Type is a registered backend type: "pkcs11".
	Type   string `mapstructure:"type"`
	PKCS11 PKCS11 `mapstructure:"pkcs11"`
}

// PKCS11 configures an HSM partition reached through a PKCS#11 module.
type PKCS11 struct {
	// Module is the path of the PKCS#11 library.
	Module string `mapstructure:"module"`
	// TokenLabel selects the partition by token label (slot ids move).
	TokenLabel string `mapstructure:"token_label"`
	// PIN is the Crypto Officer (user) PIN, from a file or an environment
	// variable.
	PIN Secret `mapstructure:"pin"`
	// SoftHSM2Conf, when set, is exported as SOFTHSM2_CONF before the
	// module is loaded (development tokens in a private directory).
	SoftHSM2Conf string `mapstructure:"softhsm2_conf"`
	// Labels of the BYOHSM key set.
	MKEKLabel  string `mapstructure:"mkek_label"`
	SKEYLabel  string `mapstructure:"skey_label"`
	IKEYLabel  string `mapstructure:"ikey_label"`
	TKEKPrefix string `mapstructure:"tkek_prefix"`
	TKEKCount  int    `mapstructure:"tkek_count"`
	// Mechanisms are the vendor-specific mechanism ids; zero values take
	// the profile's defaults.
	Mechanisms Mechanisms `mapstructure:"mechanisms"`
	// SessionPoolSize bounds the open sessions on the partition.
	SessionPoolSize int `mapstructure:"session_pool_size"`
}

// Mechanisms names the PKCS#11 mechanism ids used on the partition.
type Mechanisms struct {
	// Profile is "softhsm2" or "luna": the defaults for the fields below.
	Profile string `mapstructure:"profile"`
	// KeyWrap is AES key wrap (RFC 3394); KeyWrapPad is with padding
	// (RFC 5649): SoftHSM2 0x2109/0x210A, Luna 0x80000170/0x80000171.
	KeyWrap    uint `mapstructure:"key_wrap"`
	KeyWrapPad uint `mapstructure:"key_wrap_pad"`
}

// Store selects and configures persistence.
type Store struct {
	// Type is "bbolt" (embedded, single node).
	Type string `mapstructure:"type"`
	// Path is the bbolt database file.
	Path string `mapstructure:"path"`
}

// Log configures zerolog.
type Log struct {
	// Level is trace, debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is "json" or "console".
	Format string `mapstructure:"format"`
}

// Secret names where a secret comes from: a file (its content, trailing
// newline removed) or an environment variable. Exactly one must be set.
type Secret struct {
	File string `mapstructure:"file"`
	Env  string `mapstructure:"env"`
}

// Value reads the secret. Errors name the source, never the value.
func (s Secret) Value() (string, error) {
	switch {
	case s.File != "" && s.Env != "":
		return "", errors.New("set either file or env, not both")
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	default:
		return "", errors.New("no file or env given")
	}
}

// Default returns the configuration used for every key that the file,
// environment and flags leave unset.
func Default() Config {
	return Config{
		Server: Server{
			Listen:           "127.0.0.1:5696",
			MaxMessageSize:   1 << 20,
			ReadTimeout:      30 * time.Second,
			WriteTimeout:     30 * time.Second,
			IdleTimeout:      5 * time.Minute,
			HandshakeTimeout: 10 * time.Second,
			MaxConnections:   1024,
			ShutdownTimeout:  30 * time.Second,
			Tenant:           "default",
		},
		TLS: TLS{
			MinVersion:   "1.2",
			CipherPreset: "strict",
		},
		Backend: Backend{
			Type: "pkcs11",
			PKCS11: PKCS11{
				Module:          "/usr/lib/softhsm/libsofthsm2.so",
				MKEKLabel:       "MKEK",
				SKEYLabel:       "SKEY",
				IKEYLabel:       "IKEY",
				TKEKPrefix:      "TKEK",
				TKEKCount:       10,
				Mechanisms:      Mechanisms{Profile: "softhsm2"},
				SessionPoolSize: 16,
			},
		},
		Store: Store{Type: "bbolt"},
		Log:   Log{Level: "info", Format: "json"},
	}
}

// Validate checks every setting and returns the first problem as one line
// naming the key, for example "server.listen: missing port".
func (c *Config) Validate() error {
	checks := []func() error{
		c.Server.validate, c.TLS.validate, c.Backend.validate,
		c.Store.validate, c.Log.validate, c.Metrics.validate,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) validate() error {
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return fmt.Errorf("server.listen: %q is not host:port", s.Listen)
	}
	if s.MaxMessageSize < 1024 || s.MaxMessageSize > 64<<20 {
		return fmt.Errorf("server.max_message_size: %d is outside 1024..67108864", s.MaxMessageSize)
	}
	for key, d := range map[string]time.Duration{
		"server.read_timeout": s.ReadTimeout, "server.write_timeout": s.WriteTimeout,
		"server.idle_timeout": s.IdleTimeout, "server.handshake_timeout": s.HandshakeTimeout,
		"server.shutdown_timeout": s.ShutdownTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s: must be a positive duration, got %s", key, d)
		}
	}
	if s.MaxConnections < 1 {
		return fmt.Errorf("server.max_connections: must be at least 1, got %d", s.MaxConnections)
	}
	if s.Tenant == "" {
		return errors.New("server.tenant: must not be empty")
	}
	for _, c := range s.VSphereClients {
		kind, value, _ := strings.Cut(c, ":")
		switch {
		case kind == "sha256" && len(value) == 64 && strings.Trim(strings.ToLower(value), "0123456789abcdef") == "":
		case kind == "cn" && value != "":
		default:
			return fmt.Errorf("server.vsphere_clients: %q is not sha256:<64 hex digits> or cn:<name>", c)
		}
	}
	return nil
}

func (t *TLS) validate() error {
	for key, path := range map[string]string{
		"tls.cert_file": t.CertFile, "tls.key_file": t.KeyFile, "tls.client_ca_file": t.ClientCAFile,
	} {
		if path == "" {
			return fmt.Errorf("%s: required (mutual TLS is always on)", key)
		}
	}
	switch t.MinVersion {
	case "1.2", "1.3":
	default:
		return fmt.Errorf("tls.min_version: %q is not 1.2 or 1.3", t.MinVersion)
	}
	switch t.CipherPreset {
	case "strict", "kmip-compat":
	default:
		return fmt.Errorf("tls.cipher_preset: %q is not strict or kmip-compat", t.CipherPreset)
	}
	return nil
}

func (b *Backend) validate() error {
	switch b.Type {
	case "pkcs11":
		return b.PKCS11.validate()
	default:
		return fmt.Errorf("backend.type: %q is not a known backend (pkcs11)", b.Type)
	}
}

func (p *PKCS11) validate() error {
	if p.Module == "" {
		return errors.New("backend.pkcs11.module: required")
	}
	if p.TokenLabel == "" {
		return errors.New("backend.pkcs11.token_label: required")
	}
	if (p.PIN.File == "") == (p.PIN.Env == "") {
		return errors.New("backend.pkcs11.pin: set exactly one of pin.file or pin.env")
	}
	for key, label := range map[string]string{
		"backend.pkcs11.mkek_label": p.MKEKLabel, "backend.pkcs11.skey_label": p.SKEYLabel,
		"backend.pkcs11.ikey_label": p.IKEYLabel, "backend.pkcs11.tkek_prefix": p.TKEKPrefix,
	} {
		if label == "" {
			return fmt.Errorf("%s: required", key)
		}
	}
	if p.TKEKCount < 0 || p.TKEKCount > 100 {
		return fmt.Errorf("backend.pkcs11.tkek_count: %d is outside 0..100", p.TKEKCount)
	}
	switch p.Mechanisms.Profile {
	case "softhsm2", "luna":
	default:
		return fmt.Errorf("backend.pkcs11.mechanisms.profile: %q is not softhsm2 or luna", p.Mechanisms.Profile)
	}
	if p.SessionPoolSize < 1 || p.SessionPoolSize > 1024 {
		return fmt.Errorf("backend.pkcs11.session_pool_size: %d is outside 1..1024", p.SessionPoolSize)
	}
	return nil
}

func (s *Store) validate() error {
	switch s.Type {
	case "bbolt":
		if s.Path == "" {
			return errors.New("store.path: required for the bbolt store")
		}
	default:
		return fmt.Errorf("store.type: %q is not a known store (bbolt)", s.Type)
	}
	return nil
}

func (m *Metrics) validate() error {
	if m.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(m.Listen); err != nil {
		return fmt.Errorf("metrics.listen: %q is not host:port", m.Listen)
	}
	return nil
}

func (l *Log) validate() error {
	switch l.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not trace, debug, info, warn or error", l.Level)
	}
	switch l.Format {
	case "json", "console":
	default:
		return fmt.Errorf("log.format: %q is not json or console", l.Format)
	}
	return nil
}
