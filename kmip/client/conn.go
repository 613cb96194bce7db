package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// Defaults of Options.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxResponseSize = 16 << 20
)

// DefaultVersion is the protocol version of a Conn whose Options name
// none: KMIP 1.4, the newest 1.x, which every current server speaks.
var DefaultVersion = message.V1_4

// Options tune a Conn. The zero value is usable.
type Options struct {
	// Version is the protocol version of every request (DefaultVersion
	// when zero).
	Version message.Version
	// Timeout bounds the TLS handshake and each round trip (DefaultTimeout
	// when zero).
	Timeout time.Duration
	// MaxResponseSize bounds a response message; a longer one is refused
	// from its header (DefaultMaxResponseSize when zero).
	MaxResponseSize int
	// BatchItemIDs puts an 8-byte Unique Batch Item ID on every item, as
	// vCenter does; otherwise only messages of several items carry them
	// (KMIP 1.4 section 6.4 requires them there).
	BatchItemIDs bool
}

func (o Options) withDefaults() Options {
	if o.Version == (message.Version{}) {
		o.Version = DefaultVersion
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponseSize <= 0 {
		o.MaxResponseSize = DefaultMaxResponseSize
	}
	return o
}

// Conn is one persistent connection to a KMIP server. Its methods are safe
// for concurrent use, but it carries one request at a time.
type Conn struct {
	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	opts   Options
	nextID uint64
	broken error // set once a round trip failed mid-way: the stream is lost
}

// Dial opens a mutual TLS connection to addr (host:port) and completes the
// handshake. cfg must hold the client certificate and the roots that the
// server certificate chains to (see TLSConfig).
func Dial(ctx context.Context, addr string, cfg *tls.Config, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kmip: dial %s: %w", addr, err)
	}
	return &Conn{conn: c, r: bufio.NewReaderSize(c, 16<<10), opts: opts}, nil
}

// Version returns the protocol version of the connection's requests.
func (c *Conn) Version() message.Version { return c.opts.Version }

// ConnectionState returns the TLS state of the connection.
func (c *Conn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// ErrBroken means an earlier round trip failed half-way (a timeout, a
// short read): the connection's stream can no longer be trusted.
var ErrBroken = errors.New("kmip: connection broken by an earlier failure")

// RoundTrip sends one encoded request message and returns the response
// message, checked for well-formedness (wire.Check) but not decoded. The
// deadline is the earlier of ctx's and the connection's Timeout.
func (c *Conn) RoundTrip(ctx context.Context, msg []byte) (ttlv.TTLV, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil, fmt.Errorf("%w: %w", ErrBroken, c.broken)
	}
	deadline := time.Now().Add(c.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := c.conn.Write(msg); err != nil {
		c.broken = err
		return nil, fmt.Errorf("kmip: send: %w", err)
	}
	out, err := wire.ReadFrame(c.r, c.opts.MaxResponseSize)
	if err != nil {
		c.broken = err
		return nil, fmt.Errorf("kmip: read response: %w", err)
	}
	if err := wire.Check(out); err != nil {
		c.broken = err
		return nil, fmt.Errorf("kmip: response: %w", err)
	}
	return out, nil
}

// Batch sends one request message holding items and returns the results
// of its batch items, in order. An error means no usable response; the
// failure of an item is in its Result (see Result.Err).
func (c *Conn) Batch(ctx context.Context, items ...Item) ([]Result, error) {
	c.mu.Lock()
	ids := c.opts.BatchItemIDs || len(items) > 1
	first := c.nextID
	if ids {
		c.nextID += uint64(len(items))
	}
	c.mu.Unlock()
	msg, err := EncodeRequest(RequestHeader{Version: c.opts.Version}, items, ids, first)
	if err != nil {
		return nil, err
	}
	raw, err := c.RoundTrip(ctx, msg)
	if err != nil {
		return nil, err
	}
	resp, err := DecodeResponse(raw)
	if err != nil {
		return nil, err
	}
	if len(resp.Items) != len(items) {
		if len(resp.Items) == 1 && resp.Items[0].Status != message.StatusSuccess {
			// A message-level failure (Invalid Message, Unsupported
			// Protocol Version...) comes back as a single item.
			return nil, resp.Items[0].Err()
		}
		return nil, fmt.Errorf("kmip: %d batch items sent, %d answered", len(items), len(resp.Items))
	}
	return resp.Items, nil
}

// Call sends one operation and returns its response payload, or the
// item's failure as a *ResultError.
func (c *Conn) Call(ctx context.Context, op message.Operation, payload any) (ttlv.TTLV, error) {
	rs, err := c.Batch(ctx, Item{Operation: op, Payload: payload})
	if err != nil {
		return nil, err
	}
	if err := rs[0].Err(); err != nil {
		return nil, err
	}
	return rs[0].Payload, nil
}

// TLSOptions say where a client's certificates are.
type TLSOptions struct {
	// CAFile holds the PEM certificates the server's certificate must
	// chain to.
	CAFile string
	// CertFile and KeyFile are the client certificate (with the clientAuth
	// extended key usage for most servers) and its private key, in PEM.
	CertFile, KeyFile string
	// ServerName is checked against the server certificate; when empty,
	// ForAddr sets the host that is dialled.
	ServerName string
	// MinVersion is tls.VersionTLS12 when zero.
	MinVersion uint16
	// Compat also offers the KMIP profile suites with RSA key exchange
	// (TLS_RSA_WITH_AES_128_CBC_SHA256 and friends) for servers that offer
	// nothing else.
	Compat bool
}

// clientSuites are the TLS 1.2 suites a client offers: the ECDHE AEAD
// suites Go enables by default, then the ECDHE CBC suites of the KMIP
// profiles (KMIP Profiles 1.4 section 3.1), which servers built on
// OpenSSL with an RSA certificate (pykmip-server among them) may offer
// alone. TLS 1.3 suites are not configurable and always offered.
var clientSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
}

// compatSuites are offered after clientSuites with TLSOptions.Compat.
var compatSuites = []uint16{
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
}

// TLSConfig loads the files of o into a client TLS configuration. TLS
// session tickets are kept, so that a reconnecting client resumes its
// session where the server allows it.
func TLSConfig(o TLSOptions) (*tls.Config, error) {
	if o.CAFile == "" || o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("kmip: TLS needs a CA file, a client certificate and its key")
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("kmip: client certificate %s: %w", o.CertFile, err)
	}
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("kmip: CA file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("kmip: CA file %s holds no PEM certificate", o.CAFile)
	}
	cfg := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		RootCAs:            roots,
		ServerName:         o.ServerName,
		MinVersion:         o.MinVersion,
		CipherSuites:       append([]uint16(nil), clientSuites...),
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if o.Compat {
		cfg.CipherSuites = append(cfg.CipherSuites, compatSuites...)
	}
	return cfg, nil
}

// ForAddr returns a copy of cfg whose ServerName is addr's host when cfg
// names none, so that the server certificate is checked against the name
// or IP address the client dialled.
func ForAddr(cfg *tls.Config, addr string) *tls.Config {
	out := cfg.Clone()
	if out.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			out.ServerName = host
		}
	}
	return out
}
