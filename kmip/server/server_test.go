package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

type testServer struct {
	addr   string
	client *tls.Config
	srv    *server.Server
	done   chan error
}

// startServer runs a real listener on 127.0.0.1:0 with a development PKI.
func startServer(t *testing.T, tune func(*config.Server)) *testServer {
	dir := t.TempDir()
	require.NoError(t, certs.DevPKI(dir, certs.DevPKIOptions{KeyType: certs.KeyTypeECDSA}))
	tlsCfg, err := server.TLSConfig(config.TLS{
		CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key"),
		ClientCAFile: filepath.Join(dir, "ca.crt"), MinVersion: "1.2", CipherPreset: "strict",
	})
	require.NoError(t, err)
	cfg := config.Default().Server
	if tune != nil {
		tune(&cfg)
	}
	srv := server.New(cfg, tlsCfg, kmiptest.NewExecutor(t), server.SingleTenant("t"), zerolog.New(zerolog.NewTestWriter(t)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts := &testServer{addr: ln.Addr().String(), srv: srv, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ln) }()

	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	require.NoError(t, err)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ts.client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost"}
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })
	return ts
}

func (ts *testServer) dial(t *testing.T) *tls.Conn {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr, ts.client)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg []byte) kmiptest.Response {
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := c.Write(msg)
	require.NoError(t, err)
	out, err := wire.ReadFrame(c, 1<<20)
	require.NoError(t, err)
	var r kmiptest.Response
	require.NoError(t, ttlv.Unmarshal(out, &r))
	return r
}

func queryMsg(t *testing.T) []byte {
	return kmiptest.Request(t, message.V1_4, kmiptest.Item{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}})
}

func TestServerAnswersManyRequestsOnOneConnection(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	for i := 0; i < 5; i++ {
		r := roundTrip(t, c, queryMsg(t))
		assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus)
	}
}

func TestServerRefusesOversizedFrameFromItsHeader(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	hdr := make([]byte, 8)
	copy(hdr, []byte{0x42, 0x00, 0x78, 0x01})
	binary.BigEndian.PutUint32(hdr[4:], 0x7FFFFFF8) // a 2 GiB body that never comes
	r := roundTrip(t, c, hdr)
	assert.Equal(t, kmip20.ResultReasonInvalidMessage, r.BatchItem[0].ResultReason)
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the connection is closed after an unframeable message")

	r = roundTrip(t, ts.dial(t), queryMsg(t))
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, "others are still served")
}

func TestServerAnswersMalformedBodyAndKeepsServing(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	bad := []byte{0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x0D, 0x02, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0}
	r := roundTrip(t, c, bad)
	assert.Equal(t, kmip20.ResultReasonInvalidMessage, r.BatchItem[0].ResultReason)
	r = roundTrip(t, c, queryMsg(t))
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, "a well-framed bad message does not cost the connection")
}

func TestServerClosesIdleConnections(t *testing.T) {
	ts := startServer(t, func(c *config.Server) { c.IdleTimeout = 200 * time.Millisecond })
	c := ts.dial(t)
	roundTrip(t, c, queryMsg(t))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF)
}

func TestServerClosesSlowSenders(t *testing.T) {
	ts := startServer(t, func(c *config.Server) { c.ReadTimeout = 300 * time.Millisecond })
	c := ts.dial(t)
	msg := queryMsg(t)
	_, err := c.Write(msg[:10]) // start a message, never finish it
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	assert.Error(t, err, "the server gives up on a message that does not arrive")
}

func TestServerLimitsOpenConnections(t *testing.T) {
	ts := startServer(t, func(c *config.Server) { c.MaxConnections = 2 })
	a, b := ts.dial(t), ts.dial(t)
	roundTrip(t, a, queryMsg(t))
	roundTrip(t, b, queryMsg(t))
	// The third is accepted by the kernel and closed by the server.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr, ts.client)
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Write(queryMsg(t))
		if err == nil {
			_, err = wire.ReadFrame(c, 1<<20)
		}
		_ = c.Close()
	}
	assert.Error(t, err, "a connection over the limit is refused")

	_ = a.Close()
	assert.Eventually(t, func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", ts.addr, ts.client)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(queryMsg(t)); err != nil {
			return false
		}
		_, err = wire.ReadFrame(c, 1<<20)
		return err == nil
	}, 5*time.Second, 50*time.Millisecond, "a freed slot is usable again")
}

func TestServerRequiresClientCertificate(t *testing.T) {
	ts := startServer(t, nil)
	cfg := ts.client.Clone()
	cfg.Certificates = nil
	c, err := tls.Dial("tcp", ts.addr, cfg)
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Write(queryMsg(t))
		if err == nil {
			_, err = wire.ReadFrame(c, 1<<20)
		}
		_ = c.Close()
	}
	assert.Error(t, err)
}

func TestServerRefusesOldTLS(t *testing.T) {
	ts := startServer(t, nil)
	cfg := ts.client.Clone()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	_, err := tls.Dial("tcp", ts.addr, cfg)
	assert.Error(t, err)
}

func TestShutdownDrainsAndStops(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	roundTrip(t, c, queryMsg(t))
	require.NoError(t, ts.srv.Shutdown(t.Context()))
	select {
	case err := <-ts.done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	_, err := net.DialTimeout("tcp", ts.addr, time.Second)
	assert.Error(t, err, "no longer listening")
}

// A SIGTERM just after start can run Shutdown before Serve has taken its
// listener: Serve must then return at once and close the listener, not
// accept on it forever (the server hung in its drain).
func TestShutdownBeforeServe(t *testing.T) {
	srv := server.New(config.Default().Server, &tls.Config{}, kmiptest.NewExecutor(t), server.SingleTenant("t"), zerolog.Nop())
	require.NoError(t, srv.Shutdown(t.Context()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve after Shutdown did not return")
	}
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "the listener is closed")
}

func TestShutdownDoesNotWaitForAStalledRequest(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	roundTrip(t, c, queryMsg(t))
	_, err := c.Write(queryMsg(t)[:4]) // half a header, then nothing
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, ts.srv.Shutdown(t.Context()), "nothing was in flight")
	assert.Less(t, time.Since(start), 2*time.Second)
}
