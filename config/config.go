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
	"net/url"
	"os"
	"strconv"
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
	Audit   Audit   `mapstructure:"audit"`
	// Registry and Admin are the client registry and its admin API.
	Registry Registry `mapstructure:"registry"`
	Admin    Admin    `mapstructure:"admin"`
}

// Audit configures the audit trail: one JSON line per KMIP batch item and
// admin action, chained with a MAC whose key the root of trust protects
// (`kmipctl audit verify` checks it). See docs/operations.md.
type Audit struct {
	// Path is the active log file; rotated segments sit beside it as
	// PATH.000001, PATH.000002, ... Empty turns auditing off.
	Path string `mapstructure:"path"`
	// KeyFile holds the chain key sealed by the root of trust; empty means
	// PATH.key. It is made at the first start and opened at every start
	// after (one call to the HSM); without it the log cannot be verified.
	KeyFile string `mapstructure:"key_file"`
	// Required fails closed: a KMIP operation whose audit record cannot be
	// written answers General Failure (a change it made stands; a Get
	// returns no key). When false the failure is only logged.
	Required bool `mapstructure:"required"`
	// Sync is "fsync" (a record is on disk before the operation answers;
	// concurrent requests share one fsync) or "none" (it has reached the
	// operating system: it survives a crash of the server, not of the
	// machine).
	Sync string `mapstructure:"sync"`
	// MaxSegmentSize rotates the active file once it holds this many
	// bytes; 0 never rotates.
	MaxSegmentSize int `mapstructure:"max_segment_size"`
	// Preallocate is how many bytes of zeros are written (and made
	// durable) ahead of the records, a chunk at a time in the background,
	// so that a record's fsync flushes its data only (about half the
	// cost of an append's on ext4); 0 appends instead. A full disk shows
	// as a failed allocation in the server log before records fail.
	Preallocate int `mapstructure:"preallocate"`
}

// Registry configures how KMIP clients are identified: by the tenant and
// client registry that the admin API keeps in the store, or by
// server.tenant and server.vsphere_clients.
type Registry struct {
	// Mode is "auto" (the registry as soon as it holds a client or a
	// tenant made through the admin API, server.tenant before),
	// "registry" (registered clients only: an empty registry refuses
	// everyone) or "config" (server.tenant only, the registry ignored).
	Mode string `mapstructure:"mode"`
	// RefreshInterval is how often a node checks the store for registry
	// changes made through another node's admin API (changes made through
	// its own apply at once). On PostgreSQL the nodes are also told of
	// each change at once (LISTEN/NOTIFY); this poll is the fallback while
	// that connection is down.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`
}

// Admin configures the admin API: JSON over HTTPS with mutual TLS, on its
// own listener, for operators (kmipctl tenant, client, ca). Operators are
// the holders of certificates from OperatorCAFile, which must not be the
// CA of KMIP clients.
type Admin struct {
	// Listen is host:port; empty turns the admin API off.
	Listen string `mapstructure:"listen"`
	// CertFile and KeyFile are the admin listener's certificate and key.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// OperatorCAFile is the CA of operator certificates.
	OperatorCAFile string `mapstructure:"operator_ca_file"`
	// IssuerCertFile and IssuerKeyFile are the CA with which the admin
	// API certifies KMIP clients (kmipctl client issue, client sign-csr);
	// it should be the CA of tls.client_ca_file. Empty: no issuing.
	IssuerCertFile string `mapstructure:"issuer_cert_file"`
	IssuerKeyFile  string `mapstructure:"issuer_key_file"`
	// ServerCAFile, OperatorCertFile and OperatorKeyFile are read by
	// kmipctl only: the CA that verifies the admin listener, and the
	// operator certificate and key it presents.
	ServerCAFile     string `mapstructure:"server_ca_file"`
	OperatorCertFile string `mapstructure:"operator_cert_file"`
	OperatorKeyFile  string `mapstructure:"operator_key_file"`
}

// Metrics configures the operations listener: Prometheus metrics on
// /metrics, liveness on /healthz, readiness on /readyz. Plain HTTP: bind it
// to a management network or loopback.
type Metrics struct {
	// Listen is host:port; empty turns the listener off.
	Listen string `mapstructure:"listen"`
	// Pprof adds Go's profiling endpoints (/debug/pprof/) to the listener,
	// for `go tool pprof`. Off by default: a profile costs CPU while it runs.
	Pprof bool `mapstructure:"pprof"`
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
	// NonExtractableKeys makes the keys clients create non-Extractable
	// unless the request says otherwise (KMIP 1.x before 1.4 cannot):
	// with the pkcs11 backend they are made and kept in the HSM and never
	// leave it in plaintext; Get refuses them, Encrypt, Sign and key
	// wrapping work.
	NonExtractableKeys bool `mapstructure:"non_extractable_keys"`
	// WrappingKeysNonExtractable does the same for the keys created with
	// a usage mask that allows Wrap Key or Unwrap Key only, so that the
	// keys they wrap can still be fetched (vSphere 9 wrapped-key mode).
	WrappingKeysNonExtractable bool `mapstructure:"wrapping_keys_non_extractable"`
}

// TLS configures the mutual TLS of the KMIP listener.
type TLS struct {
	CertFile     string `mapstructure:"cert_file"`
	KeyFile      string `mapstructure:"key_file"`
	ClientCAFile string `mapstructure:"client_ca_file"`
	// CRLFile is an optional PEM file of certificate revocation lists,
	// each signed by a CA of client_ca_file; a client certificate they
	// list is refused at the handshake. Re-read on SIGHUP; a list past
	// its Next Update is refused at start and reload, and refuses the
	// certificates of its CA once it expires (fail closed).
	CRLFile string `mapstructure:"crl_file"`
	// MinVersion is "1.2" or "1.3".
	MinVersion string `mapstructure:"min_version"`
	// CipherPreset is "strict" (ECDHE with AEAD only) or "kmip-compat"
	// (adds the KMIP profile suites, including RSA key exchange with CBC,
	// for appliances that offer nothing else).
	CipherPreset string `mapstructure:"cipher_preset"`
}

// Backend selects and configures the root of trust.
type Backend struct {
	// Type is a registered backend type, "pkcs11" or "hpcs": the root of
	// trust of tenants made from now on.
	Type string `mapstructure:"type"`
	// Types lists every root of trust the server opens, so that one
	// server serves tenants on either (each tenant stays on the one that
	// made its key); empty means Type alone. Type must be among them.
	Types  []string `mapstructure:"types"`
	PKCS11 PKCS11   `mapstructure:"pkcs11"`
	HPCS   HPCS     `mapstructure:"hpcs"`
}

// EnabledTypes is Types, or Type alone when Types is empty.
func (b *Backend) EnabledTypes() []string {
	if len(b.Types) == 0 {
		return []string{b.Type}
	}
	return b.Types
}

// PKCS11 configures the HSM partitions reached through PKCS#11 modules:
// one partition (Module and TokenLabel), or an HA set of partitions that
// hold the same key set under the same labels and PIN (Members).
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
	// MKEKV1Label is the MKEK of tenant keys stored before their blobs
	// named their MKEK (blob version 1); empty means MKEKLabel. Set it to
	// the old label when mkek_label changes to a new MKEK (root rotation)
	// until `kmipctl hsm rotate` has rewrapped every tenant key.
	MKEKV1Label string `mapstructure:"mkek_v1_label"`
	// Labels of the BYOHSM key set.
	MKEKLabel  string `mapstructure:"mkek_label"`
	SKEYLabel  string `mapstructure:"skey_label"`
	IKEYLabel  string `mapstructure:"ikey_label"`
	TKEKPrefix string `mapstructure:"tkek_prefix"`
	TKEKCount  int    `mapstructure:"tkek_count"`
	// Mechanisms are the vendor-specific mechanism ids; zero values take
	// the profile's defaults.
	Mechanisms Mechanisms `mapstructure:"mechanisms"`
	// SessionPoolSize bounds the open sessions on each partition.
	SessionPoolSize int `mapstructure:"session_pool_size"`
	// Members, when set, are the partitions of an HA set, each a PKCS#11
	// URI (RFC 7512) such as
	//   pkcs11:token=part-a?module-path=/usr/lib/libCryptoki2_64.so
	// Path attributes: token (the token label) and slot-id. Query
	// attributes: module-path, x-server-address (exported as
	// P11_KIT_SERVER_ADDRESS when the module initializes: a p11-kit-client
	// member) and x-softhsm2-conf (SOFTHSM2_CONF). What a member leaves
	// out comes from Module, TokenLabel and SoftHSM2Conf. A PIN in the URI
	// (pin-value, pin-source) is refused: the PIN comes from PIN only.
	Members []string `mapstructure:"members"`
	// MemberRetry is the first wait before a failed member is tried
	// again; each failed try doubles it, up to MemberRetryMax.
	MemberRetry    time.Duration `mapstructure:"member_retry"`
	MemberRetryMax time.Duration `mapstructure:"member_retry_max"`
	// HealthInterval is how often working members are probed, so that a
	// member lost while idle is found before a request needs it.
	HealthInterval time.Duration `mapstructure:"health_interval"`
	// CallTimeout is how long a member may have PKCS#11 calls in flight
	// with none of them returning before it is taken out of the set as
	// hung (a network HSM that stopped answering without closing its
	// connection), and how long a call waits for its turn on a module
	// that takes one call at a time (p11-kit-client). Longer than the
	// slowest call the HSM makes (RSA key generation).
	CallTimeout time.Duration `mapstructure:"call_timeout"`
}

// HPCS configures the IBM Hyper Protect Crypto Services or Key Protect
// KMS API (the same API): a customer root key, by id, protects each
// tenant KEK. Zero durations and counts take the defaults in brackets.
type HPCS struct {
	// URL is the KMS API endpoint, without /api/v2: for Key Protect
	// https://<region>.kms.cloud.ibm.com (private:
	// https://private.<region>.kms.cloud.ibm.com), for HPCS
	// https://api.<region>.hs-crypto.cloud.ibm.com:<port> (private:
	// https://api.private.<region>.hs-crypto.cloud.ibm.com:<port>), for Key
	// Protect Dedicated the URL of the dedicated instance. Plain http is
	// accepted only for a loopback host (the `kmipctl dev kms` stand-in).
	URL string `mapstructure:"url"`
	// IAMURL is the IAM token endpoint
	// [https://iam.cloud.ibm.com/identity/token]; private endpoints use
	// https://private.iam.cloud.ibm.com/identity/token.
	IAMURL string `mapstructure:"iam_url"`
	// InstanceID is the service instance GUID (the bluemix-instance
	// header).
	InstanceID string `mapstructure:"instance_id"`
	// RootKeyID is the root key (its id, or an alias) that wraps the KEK
	// of tenants made from now on, except a tenant created with a root key
	// of its own (`kmipctl tenant create --root`). Tenant keys name the
	// root key that wrapped them, so after changing it `kmipctl kms
	// rewrap` moves them.
	RootKeyID string `mapstructure:"root_key_id"`
	// KeyRing, when set, is sent as x-kms-key-ring (faster lookups).
	KeyRing string `mapstructure:"key_ring"`
	// APIKey is the IBM Cloud API key of a service ID with the Reader
	// and ReaderPlus (wrap, unwrap, rewrap) roles on the root key, from a
	// file or an environment variable.
	APIKey Secret `mapstructure:"api_key"`
	// KEKSource is "kms" (a tenant KEK is made by the KMS: wrap without
	// plaintext) or "local" (made from Go's crypto/rand, then wrapped) [kms].
	KEKSource string `mapstructure:"kek_source"`
	// Timeout bounds one HTTP exchange with the KMS or IAM [10s].
	Timeout time.Duration `mapstructure:"timeout"`
	// CacheTTL is how long an unwrapped tenant KEK stays in memory [5m]:
	// disabling or deleting the root key makes the tenant unusable within
	// this time (crypto-shredding). At most 24h.
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
	// Retries is how many times a call answered 429, 5xx or not at all
	// is tried again [3].
	Retries int `mapstructure:"retries"`
	// RetryBase is the first wait before a retry [200ms], doubled each
	// time, with full jitter (and at least a 429's Retry-After).
	RetryBase time.Duration `mapstructure:"retry_base"`
	// RetryMax caps one wait [5s].
	RetryMax time.Duration `mapstructure:"retry_max"`
	// BreakerThreshold failed calls in a row (retries spent) open the
	// circuit [5]: calls then fail at once, so that a dead KMS does not
	// hold every KMIP client for the whole retry budget.
	BreakerThreshold int `mapstructure:"breaker_threshold"`
	// BreakerCooldown is how long an open circuit refuses calls before
	// one call probes the KMS again [10s].
	BreakerCooldown time.Duration `mapstructure:"breaker_cooldown"`
}

// WithDefaults returns h with zero values replaced by the defaults.
func (h HPCS) WithDefaults() HPCS {
	if h.IAMURL == "" {
		h.IAMURL = "https://iam.cloud.ibm.com/identity/token"
	}
	if h.KEKSource == "" {
		h.KEKSource = "kms"
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&h.Timeout, 10 * time.Second}, {&h.CacheTTL, 5 * time.Minute}, {&h.RetryBase, 200 * time.Millisecond},
		{&h.RetryMax, 5 * time.Second}, {&h.BreakerCooldown, 10 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if h.Retries == 0 {
		h.Retries = 3
	}
	if h.BreakerThreshold == 0 {
		h.BreakerThreshold = 5
	}
	return h
}

func (h *HPCS) validate() error {
	for key, v := range map[string]string{
		"backend.hpcs.url": h.URL, "backend.hpcs.instance_id": h.InstanceID, "backend.hpcs.root_key_id": h.RootKeyID,
	} {
		if v == "" {
			return fmt.Errorf("%s: required", key)
		}
	}
	d := h.WithDefaults()
	for key, v := range map[string]string{"backend.hpcs.url": d.URL, "backend.hpcs.iam_url": d.IAMURL} {
		if err := checkServiceURL(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if (h.APIKey.File == "") == (h.APIKey.Env == "") {
		return errors.New("backend.hpcs.api_key: set exactly one of api_key.file or api_key.env")
	}
	switch d.KEKSource {
	case "kms", "local":
	default:
		return fmt.Errorf("backend.hpcs.kek_source: %q is not kms or local", h.KEKSource)
	}
	for _, c := range []struct {
		key      string
		v        time.Duration
		min, max time.Duration
	}{
		{"backend.hpcs.timeout", h.Timeout, 100 * time.Millisecond, 5 * time.Minute},
		{"backend.hpcs.cache_ttl", h.CacheTTL, time.Second, 24 * time.Hour},
		{"backend.hpcs.retry_base", h.RetryBase, time.Millisecond, time.Minute},
		{"backend.hpcs.retry_max", h.RetryMax, time.Millisecond, 10 * time.Minute},
		{"backend.hpcs.breaker_cooldown", h.BreakerCooldown, 100 * time.Millisecond, time.Hour},
	} {
		if c.v != 0 && (c.v < c.min || c.v > c.max) {
			return fmt.Errorf("%s: %s is outside %s..%s", c.key, c.v, c.min, c.max)
		}
	}
	if d.RetryMax < d.RetryBase {
		return fmt.Errorf("backend.hpcs.retry_max: %s is below retry_base (%s)", d.RetryMax, d.RetryBase)
	}
	if h.Retries < 0 || h.Retries > 10 {
		return fmt.Errorf("backend.hpcs.retries: %d is outside 0..10", h.Retries)
	}
	if h.BreakerThreshold < 0 || h.BreakerThreshold > 1000 {
		return fmt.Errorf("backend.hpcs.breaker_threshold: %d is outside 1..1000", h.BreakerThreshold)
	}
	return nil
}

// checkServiceURL accepts https URLs, and http ones on a loopback host
// only (an API key and tenant keys cross this connection).
func checkServiceURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: plain http only to a loopback host (the development stand-in); use https", s)
	default:
		return fmt.Errorf("%q: the scheme must be https", s)
	}
}

// PKCS11Member is one partition of the HA set, read from a member URI
// with the defaults of its PKCS11 section applied.
type PKCS11Member struct {
	// URI is the member as configured (it holds no secret).
	URI    string
	Module string
	// TokenLabel and SlotID select the token; at least one is set.
	TokenLabel string
	SlotID     uint
	HasSlotID  bool
	// ServerAddress is exported as P11_KIT_SERVER_ADDRESS, and
	// SoftHSM2Conf as SOFTHSM2_CONF, before the module initializes.
	ServerAddress string
	SoftHSM2Conf  string
}

// MemberSet returns the partitions to use: the Members, or the one
// partition that Module, TokenLabel and SoftHSM2Conf name. Errors name the
// key (backend.pkcs11.members[N], counted from 1).
func (p *PKCS11) MemberSet() ([]PKCS11Member, error) {
	if len(p.Members) == 0 {
		if p.TokenLabel == "" {
			return nil, errors.New("backend.pkcs11.token_label: required")
		}
		return []PKCS11Member{{
			URI:          "pkcs11:token=" + url.PathEscape(p.TokenLabel),
			Module:       p.Module,
			TokenLabel:   p.TokenLabel,
			SoftHSM2Conf: p.SoftHSM2Conf,
		}}, nil
	}
	if len(p.Members) > 16 {
		return nil, fmt.Errorf("backend.pkcs11.members: %d members; at most 16", len(p.Members))
	}
	out := make([]PKCS11Member, 0, len(p.Members))
	for i, uri := range p.Members {
		key := fmt.Sprintf("backend.pkcs11.members[%d]", i+1)
		m, err := ParsePKCS11Member(uri)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if m.Module == "" {
			m.Module = p.Module
		}
		if m.Module == "" {
			return nil, fmt.Errorf("%s: no module-path, and backend.pkcs11.module is empty", key)
		}
		if m.TokenLabel == "" && !m.HasSlotID {
			if p.TokenLabel == "" {
				return nil, fmt.Errorf("%s: no token or slot-id, and backend.pkcs11.token_label is empty", key)
			}
			m.TokenLabel = p.TokenLabel
		}
		if m.SoftHSM2Conf == "" {
			m.SoftHSM2Conf = p.SoftHSM2Conf
		}
		for j, o := range out {
			okey := fmt.Sprintf("backend.pkcs11.members[%d]", j+1)
			if o.Module != m.Module {
				continue
			}
			if o.TokenLabel == m.TokenLabel && o.HasSlotID == m.HasSlotID && o.SlotID == m.SlotID {
				return nil, fmt.Errorf("%s: the same partition as %s", key, okey)
			}
			// A module file is loaded once per process and reads its
			// environment once: members that need different settings
			// need their own copies of the file.
			if o.ServerAddress != m.ServerAddress || o.SoftHSM2Conf != m.SoftHSM2Conf {
				return nil, fmt.Errorf("%s: loads module %s like %s but with another x-server-address or x-softhsm2-conf: "+
					"a module reads them once per process; give each member its own copy of the module file", key, m.Module, okey)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// ParsePKCS11Member reads a member URI (see PKCS11.Members). Defaults are
// not applied. Errors never quote a PIN.
func ParsePKCS11Member(uri string) (PKCS11Member, error) {
	m := PKCS11Member{URI: uri}
	rest, ok := strings.CutPrefix(uri, "pkcs11:")
	if !ok {
		return m, errors.New(`not a PKCS#11 URI (it must start with "pkcs11:")`)
	}
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	attrs := func(part, sep string, set func(name, value string) error) error {
		if part == "" {
			return nil
		}
		for _, a := range strings.Split(part, sep) {
			name, raw, ok := strings.Cut(a, "=")
			name = strings.ToLower(name)
			if !ok || name == "" {
				return fmt.Errorf("attribute %q is not name=value", a)
			}
			if name == "pin-value" || name == "pin-source" {
				return fmt.Errorf("%s is refused: the PIN comes only from backend.pkcs11.pin (a file or an environment variable)", name)
			}
			if seen[name] {
				return fmt.Errorf("attribute %s given twice", name)
			}
			seen[name] = true
			v, err := url.PathUnescape(raw)
			if err != nil {
				return fmt.Errorf("attribute %s: bad percent-encoding", name)
			}
			if err := set(name, v); err != nil {
				return err
			}
		}
		return nil
	}
	err := attrs(path, ";", func(name, v string) error {
		switch name {
		case "token":
			if v == "" || len(v) > 32 {
				return fmt.Errorf("token: a token label is 1 to 32 bytes, got %d", len(v))
			}
			m.TokenLabel = v
		case "slot-id":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("slot-id: %q is not a decimal number", v)
			}
			m.SlotID, m.HasSlotID = uint(n), true
		default:
			return fmt.Errorf("path attribute %s is not supported (token, slot-id)", name)
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	err = attrs(query, "&", func(name, v string) error {
		if v == "" {
			return fmt.Errorf("%s: empty", name)
		}
		switch name {
		case "module-path":
			m.Module = v
		case "x-server-address":
			m.ServerAddress = v
		case "x-softhsm2-conf":
			m.SoftHSM2Conf = v
		default:
			return fmt.Errorf("query attribute %s is not supported (module-path, x-server-address, x-softhsm2-conf)", name)
		}
		return nil
	})
	return m, err
}

// Mechanisms names the PKCS#11 mechanism ids used on the partition.
type Mechanisms struct {
	// Profile is "softhsm2" or "luna": the defaults for the fields below.
	Profile string `mapstructure:"profile"`
	// KeyWrap is AES key wrap (RFC 3394); KeyWrapPad is with padding
	// (RFC 5649): SoftHSM2 0x2109/0x210A, Luna 0x80000170/0x80000171.
	KeyWrap    uint `mapstructure:"key_wrap"`
	KeyWrapPad uint `mapstructure:"key_wrap_pad"`
	// GCM is AES-GCM (0x1087), CMAC is AES-CMAC (0x108A), HMAC is
	// HMAC-SHA256 (0x251), RSAOAEP is RSA PKCS#1 OAEP (0x9) with the hash
	// RSAOAEPHash: sha1 (SoftHSM2 knows only SHA-1) or sha256 (Luna).
	GCM         uint   `mapstructure:"gcm"`
	CMAC        uint   `mapstructure:"cmac"`
	HMAC        uint   `mapstructure:"hmac"`
	RSAOAEP     uint   `mapstructure:"rsa_oaep"`
	RSAOAEPHash string `mapstructure:"rsa_oaep_hash"`
}

// Store selects and configures persistence.
type Store struct {
	// Type is "bbolt" (embedded, single node) or "postgres" (one
	// database shared by every node of an active-active set).
	Type string `mapstructure:"type"`
	// Path is the bbolt database file.
	Path string `mapstructure:"path"`
	// Bbolt tunes the bbolt store.
	Bbolt Bbolt `mapstructure:"bbolt"`
	// Postgres configures the postgres store.
	Postgres Postgres `mapstructure:"postgres"`
}

// Bbolt tunes the embedded bbolt store.
type Bbolt struct {
	// ResidentLimitMiB bounds the pages of the store file mapped into the
	// server (bbolt reads the file through a shared map; read pages stay
	// mapped and count in the server's resident memory, VmRSS, and in a
	// container's memory limit). Every second the server reads its
	// resident file pages (RssFile, nearly all of them the store's) and,
	// past this many MiB, drops the map's pages from the process: they stay
	// in the kernel's page cache, and the next read of one costs a minor
	// fault. 0 leaves them unbounded (the kernel still reclaims them under
	// memory pressure). 0 or 64..1048576 (the binary and its libraries
	// alone take 30 to 40 MiB of it); Linux only.
	ResidentLimitMiB int `mapstructure:"resident_limit_mib"`
}

// Postgres configures the PostgreSQL store and its connection pool. Zero
// values take the defaults in brackets.
type Postgres struct {
	// DSN is the connection string
	// (postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full, or
	// libpq key=value pairs), read from a file or an environment variable
	// since it may hold a password. A search_path parameter selects the
	// schema.
	DSN Secret `mapstructure:"dsn"`
	// MaxConns bounds the pool [16]; MinConns is kept open [0].
	MaxConns int `mapstructure:"max_conns"`
	MinConns int `mapstructure:"min_conns"`
	// MaxConnLifetime recycles connections [1h] (spreading them again
	// after a failover or behind a balancer); MaxConnIdleTime closes idle
	// ones [30m].
	MaxConnLifetime time.Duration `mapstructure:"max_conn_lifetime"`
	MaxConnIdleTime time.Duration `mapstructure:"max_conn_idle_time"`
	// ConnectTimeout bounds opening one connection [5s].
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// QueryTimeout bounds each store call [30s]; past it the client gets
	// "object store unavailable" and PostgreSQL cancels the statement.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
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
				MemberRetry:     250 * time.Millisecond,
				MemberRetryMax:  10 * time.Second,
				HealthInterval:  5 * time.Second,
				CallTimeout:     30 * time.Second,
			},
			HPCS: HPCS{}.WithDefaults(),
		},
		Store:    Store{Type: "bbolt", Bbolt: Bbolt{ResidentLimitMiB: 256}},
		Log:      Log{Level: "info", Format: "json"},
		Audit:    Audit{Required: true, Sync: "fsync", MaxSegmentSize: 64 << 20, Preallocate: 8 << 20},
		Registry: Registry{Mode: "auto", RefreshInterval: 2 * time.Second},
	}
}

// Validate checks every setting and returns the first problem as one line
// naming the key, for example "server.listen: missing port".
func (c *Config) Validate() error {
	checks := []func() error{
		c.Server.validate, c.TLS.validate, c.Backend.validate,
		c.Store.validate, c.Log.validate, c.Metrics.validate,
		c.Audit.validate, c.Registry.validate, c.Admin.validate,
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
	if strings.HasPrefix(s.Tenant, ReservedTenantPrefix) {
		return fmt.Errorf("server.tenant: %q: names beginning with %q are reserved for internal tenants", s.Tenant, ReservedTenantPrefix)
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
	types := b.EnabledTypes()
	seen := map[string]bool{}
	for _, t := range types {
		if seen[t] {
			return fmt.Errorf("backend.types: %q is listed twice", t)
		}
		seen[t] = true
		var err error
		switch t {
		case "pkcs11":
			err = b.PKCS11.validate()
		case "hpcs":
			err = b.HPCS.validate()
		default:
			key := "backend.types"
			if len(b.Types) == 0 {
				key = "backend.type"
			}
			return fmt.Errorf("%s: %q is not a known backend (pkcs11, hpcs)", key, t)
		}
		if err != nil {
			return err
		}
	}
	if !seen[b.Type] {
		return fmt.Errorf("backend.type: %q is not among backend.types %v", b.Type, types)
	}
	return nil
}

func (p *PKCS11) validate() error {
	if p.Module == "" {
		return errors.New("backend.pkcs11.module: required")
	}
	if _, err := p.MemberSet(); err != nil {
		return err
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
	switch p.Mechanisms.RSAOAEPHash {
	case "", "sha1", "sha256", "sha384", "sha512":
	default:
		return fmt.Errorf("backend.pkcs11.mechanisms.rsa_oaep_hash: %q is not sha1, sha256, sha384 or sha512", p.Mechanisms.RSAOAEPHash)
	}
	if p.SessionPoolSize < 1 || p.SessionPoolSize > 1024 {
		return fmt.Errorf("backend.pkcs11.session_pool_size: %d is outside 1..1024", p.SessionPoolSize)
	}
	if p.MemberRetry < time.Millisecond || p.MemberRetry > time.Minute {
		return fmt.Errorf("backend.pkcs11.member_retry: %s is outside 1ms..1m", p.MemberRetry)
	}
	if p.MemberRetryMax < p.MemberRetry || p.MemberRetryMax > time.Hour {
		return fmt.Errorf("backend.pkcs11.member_retry_max: %s is below member_retry (%s) or above 1h", p.MemberRetryMax, p.MemberRetry)
	}
	if p.HealthInterval < 100*time.Millisecond || p.HealthInterval > time.Hour {
		return fmt.Errorf("backend.pkcs11.health_interval: %s is outside 100ms..1h", p.HealthInterval)
	}
	if p.CallTimeout < time.Second || p.CallTimeout > time.Hour {
		return fmt.Errorf("backend.pkcs11.call_timeout: %s is outside 1s..1h", p.CallTimeout)
	}
	return nil
}

func (s *Store) validate() error {
	switch s.Type {
	case "bbolt":
		if s.Path == "" {
			return errors.New("store.path: required for the bbolt store")
		}
		if l := s.Bbolt.ResidentLimitMiB; l != 0 && (l < 64 || l > 1<<20) {
			return fmt.Errorf("store.bbolt.resident_limit_mib: %d is outside 64..1048576 (0: unbounded)", l)
		}
	case "postgres":
		return s.Postgres.validate()
	default:
		return fmt.Errorf("store.type: %q is not a known store (bbolt, postgres)", s.Type)
	}
	return nil
}

func (p *Postgres) validate() error {
	if (p.DSN.File == "") == (p.DSN.Env == "") {
		return errors.New("store.postgres.dsn: set exactly one of dsn.file or dsn.env (the connection string may hold a password)")
	}
	if p.MaxConns < 0 || p.MaxConns > 10000 {
		return fmt.Errorf("store.postgres.max_conns: %d is outside 0..10000 (0: 16)", p.MaxConns)
	}
	if p.MinConns < 0 || (p.MinConns > p.MaxConns && p.MaxConns > 0) || (p.MaxConns == 0 && p.MinConns > 16) {
		return fmt.Errorf("store.postgres.min_conns: %d is outside 0..max_conns", p.MinConns)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"store.postgres.max_conn_lifetime", p.MaxConnLifetime}, {"store.postgres.max_conn_idle_time", p.MaxConnIdleTime},
		{"store.postgres.connect_timeout", p.ConnectTimeout}, {"store.postgres.query_timeout", p.QueryTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("%s: must not be negative, got %s (0: the default)", d.key, d.v)
		}
	}
	if p.QueryTimeout > 0 && p.QueryTimeout < 100*time.Millisecond {
		return fmt.Errorf("store.postgres.query_timeout: %s is too short (at least 100ms)", p.QueryTimeout)
	}
	return nil
}

func (m *Metrics) validate() error {
	if m.Listen == "" {
		if m.Pprof {
			return errors.New("metrics.pprof: needs metrics.listen (the endpoints are on that listener)")
		}
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

func (r *Registry) validate() error {
	switch r.Mode {
	case "auto", "registry", "config":
	default:
		return fmt.Errorf("registry.mode: %q is not auto, registry or config", r.Mode)
	}
	if r.RefreshInterval < 100*time.Millisecond || r.RefreshInterval > time.Hour {
		return fmt.Errorf("registry.refresh_interval: %s is outside 100ms..1h", r.RefreshInterval)
	}
	return nil
}

func (a *Admin) validate() error {
	if (a.IssuerCertFile == "") != (a.IssuerKeyFile == "") {
		return errors.New("admin.issuer_cert_file/admin.issuer_key_file: set both or neither")
	}
	if a.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		return fmt.Errorf("admin.listen: %q is not host:port", a.Listen)
	}
	for _, k := range []struct{ key, path string }{
		{"admin.cert_file", a.CertFile}, {"admin.key_file", a.KeyFile}, {"admin.operator_ca_file", a.OperatorCAFile},
	} {
		if k.path == "" {
			return fmt.Errorf("%s: required when admin.listen is set (mutual TLS is always on)", k.key)
		}
	}
	return nil
}
