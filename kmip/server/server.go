package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// Identifier maps a verified client certificate to the client it is: its
// tenant and profile. An error refuses the connection.
type Identifier func(cert *x509.Certificate) (ops.Client, error)

// SingleTenant puts every verified client in one tenant, without profile.
func SingleTenant(name string) Identifier {
	return func(cert *x509.Certificate) (ops.Client, error) {
		return ops.Client{Tenant: name, Name: cert.Subject.String()}, nil
	}
}

// Fingerprint is how certificates are named in the configuration:
// "sha256:" and the lower-case hex SHA-256 of the DER certificate.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ConfiguredIdentity puts every verified client in cfg.Tenant and gives the
// vsphere profile to the certificates cfg.VSphereClients names, by
// fingerprint ("sha256:HEX") or by subject common name ("cn:NAME").
func ConfiguredIdentity(cfg config.Server) Identifier {
	vsphere := map[string]bool{}
	for _, c := range cfg.VSphereClients {
		vsphere[strings.ToLower(c)] = true
	}
	return func(cert *x509.Certificate) (ops.Client, error) {
		c := ops.Client{Tenant: cfg.Tenant, Name: cert.Subject.String()}
		c.Policy.NonExtractableKeys = cfg.NonExtractableKeys
		c.Policy.WrappingKeysNonExtractable = cfg.WrappingKeysNonExtractable
		if vsphere[Fingerprint(cert)] || vsphere["cn:"+strings.ToLower(cert.Subject.CommonName)] {
			c.Policy.ActivateOnCreate = true
		}
		return c, nil
	}
}

// Server is a KMIP listener.
type Server struct {
	cfg config.Server
	// tls is the current TLS configuration; SetTLSConfig swaps it for new
	// connections while open ones keep theirs.
	tls      atomic.Pointer[tls.Config]
	observer Observer
	connSeq  atomic.Uint64
	exec     *Executor
	identify Identifier
	// identifyConn, when set, replaces identify (refuse.go).
	identifyConn ConnIdentifier
	log          zerolog.Logger

	sem      chan struct{}
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	inFlight sync.WaitGroup
	closing  atomic.Bool
}

// New builds a server; Serve starts it.
func New(cfg config.Server, tlsCfg *tls.Config, exec *Executor, identify Identifier, log zerolog.Logger) *Server {
	s := &Server{
		cfg: cfg, exec: exec, identify: identify, log: log, observer: nopObserver{},
		sem:   make(chan struct{}, cfg.MaxConnections),
		conns: map[net.Conn]struct{}{},
	}
	s.tls.Store(tlsCfg)
	return s
}

// SetObserver reports the server's events to o (set it before Serve).
func (s *Server) SetObserver(o Observer) {
	s.observer = o
	s.exec.Observer = o
}

// SetTLSConfig replaces the TLS configuration (certificate, trusted CAs)
// for connections accepted from now on; open connections keep theirs.
func (s *Server) SetTLSConfig(cfg *tls.Config) { s.tls.Store(cfg) }

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown, an error if accepting fails otherwise.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		// Shutdown ran before Serve took the listener (a SIGTERM just
		// after start): it had no listener to close, so close it here
		// rather than accept on it forever.
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn().Err(err).Dur("retry_in", delay).Msg("accept failed")
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		select {
		case s.sem <- struct{}{}:
		default:
			s.log.Warn().Str("remote", conn.RemoteAddr().String()).Int("limit", s.cfg.MaxConnections).Msg("connection refused: too many open connections")
			s.observer.HandshakeFailed("refused")
			_ = conn.Close()
			continue
		}
		if !s.track(conn, true) {
			<-s.sem
			_ = conn.Close()
			continue
		}
		go func() {
			defer func() { <-s.sem }()
			defer s.track(conn, false)
			s.serveConn(conn)
		}()
	}
}

// track adds or removes a connection; it refuses new ones while closing.
func (s *Server) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	return true
}

// begin counts a request in flight unless the server is closing. Taking mu
// orders it against Shutdown, so that Wait never races with Add.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.inFlight.Add(1)
	return true
}

// Shutdown stops accepting, lets requests in flight finish (until ctx is
// done), then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true) // under mu: no request begins after this (see begin)
	if s.ln != nil {
		_ = s.ln.Close()
	}
	// Wake every connection blocked reading (idle, or stalled mid-request):
	// a read deadline in the past makes its read fail at once, while a
	// request being executed finishes and writes its answer.
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.inFlight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	return err
}

// serveConn runs one client connection: handshake, identity, then one
// request at a time until the peer closes, idles out or sends garbage.
func (s *Server) serveConn(raw net.Conn) {
	log := s.log.With().Uint64("conn", s.connSeq.Add(1)).Str("remote", raw.RemoteAddr().String()).Logger()
	conn := tls.Server(raw, s.tls.Load())
	defer conn.Close()
	defer func() {
		// The executor recovers per item; this guards the rest of the
		// connection's code, so one client can never stop the server.
		if r := recover(); r != nil {
			log.Error().Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack()).Msg("connection panicked; closed")
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HandshakeTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		if errors.Is(err, ErrRevoked) {
			log.Warn().Err(err).Msg("TLS handshake refused: client certificate revoked")
		} else {
			log.Info().Err(err).Msg("TLS handshake failed")
		}
		s.observer.HandshakeFailed(handshakeReason(err))
		return
	}
	s.observer.ConnectionOpened()
	defer s.observer.ConnectionClosed()
	state := conn.ConnectionState()
	client, err := s.identifyPeer(state, raw.RemoteAddr().String())
	if err != nil {
		log.Warn().Err(err).Str("subject", state.PeerCertificates[0].Subject.String()).Msg("client refused")
		s.refuse(conn, err, log)
		return
	}
	log = log.With().Str("tenant", client.Tenant).Str("client", client.Name).Bool("activate_on_create", client.Policy.ActivateOnCreate).Logger()
	log.Debug().Str("tls", tls.VersionName(state.Version)).Str("cipher", tls.CipherSuiteName(state.CipherSuite)).Msg("connection open")
	defer log.Debug().Msg("connection closed")
	// Once per connection: the peer (it hashes the certificate), and the
	// context every request's starts from, which carries the connection's
	// logger and the number of the request being served (the executor's
	// log lines add it, see requestNumber).
	req := &connRequest{}
	connCtx := context.WithValue(audit.WithPeer(log.WithContext(context.Background()), peerOf(conn)), requestKey{}, req)

	r := bufio.NewReader(conn)
	for !s.closing.Load() {
		// Wait for the next request under the idle deadline, then give the
		// whole message the read deadline.
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if s.closing.Load() { // Shutdown may have set its deadline just before ours
			return
		}
		if _, err := r.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) && !s.closing.Load() {
				log.Debug().Err(err).Msg("connection closed while idle")
			}
			return
		}
		req.n++
		if !s.handleOne(connCtx, conn, r, client, &log, req.n) {
			return
		}
	}
}

// handleOne reads, executes and answers one request. It reports whether
// the connection can carry another one. Only a request that has been read
// whole counts as in flight: a client that stalls halfway through sending
// one cannot hold up a shutdown.
func (s *Server) handleOne(connCtx context.Context, conn *tls.Conn, r *bufio.Reader, client ops.Client, log *zerolog.Logger, n uint64) bool {
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	if s.closing.Load() {
		return false
	}
	msg, err := wire.ReadFrame(r, s.cfg.MaxMessageSize)
	if !s.begin() {
		return false // shutting down: the request was not started; the client retries elsewhere
	}
	defer s.inFlight.Done()
	keepOpen := true
	var resp []byte
	switch {
	case err == nil:
		ctx, cancel := context.WithTimeout(connCtx, s.cfg.ReadTimeout+s.cfg.WriteTimeout)
		resp = s.exec.ExecuteFor(ctx, client, msg)
		cancel()
	case errors.Is(err, wire.ErrTooLarge), errors.Is(err, wire.ErrNotStruct), errors.Is(err, wire.ErrMalformed):
		// The frame cannot be skipped safely: answer, then close.
		log.Info().Uint64("request", n).Err(err).Msg("invalid message")
		resp = s.exec.Reject(err)
		keepOpen = false
	default:
		log.Debug().Uint64("request", n).Err(err).Msg("read failed")
		return false
	}
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := conn.Write(resp); err != nil {
		log.Debug().Uint64("request", n).Err(err).Msg("write failed")
		// A peer that does not read would also hold the close_notify
		// alert up for its own 5 seconds: close the socket itself, so
		// that the connection's slot frees at the write timeout.
		_ = conn.NetConn().Close()
		return false
	}
	return keepOpen
}
