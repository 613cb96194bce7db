package integration

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile clients at the connection level: too slow, never reading, too
// many. Each runs against a server of its own with short timeouts.

// TestHostileSlowClient: a TLS client that sends a request one byte a
// second is closed by server.read_timeout (2s here), without an answer;
// a TCP client that never starts TLS is closed by the handshake timeout.
// The server serves others meanwhile and afterwards.
func TestHostileSlowClient(t *testing.T) {
	s := startHostile(t, "KMIP_ADAPTER_SERVER_HANDSHAKE_TIMEOUT=2s")

	t.Run("one byte a second", func(t *testing.T) {
		conn, err := dialTLS(s, s.clientTLS(t))
		require.NoError(t, err)
		defer conn.Close()
		req := discoverVersionsRequest(t)
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			for i := range req {
				if _, err := conn.Write(req[i : i+1]); err != nil {
					done <- err
					return
				}
				time.Sleep(time.Second)
			}
			done <- nil
		}()
		// Meanwhile a well-behaved client is served at once.
		assertStillServes(t, s)

		require.NoError(t, conn.SetReadDeadline(time.Now().Add(hostileReadTimeout+10*time.Second)))
		n, err := conn.Read(make([]byte, 1))
		took := time.Since(start)
		assert.Zero(t, n, "no answer to a request that never arrived whole")
		require.Error(t, err)
		assert.True(t, closedByPeer(err), "want the server to close the connection, got %v", err)
		assert.Less(t, took, hostileReadTimeout+5*time.Second, "closed by the read timeout")
		t.Logf("closed after %s (read timeout %s), %d of %d bytes sent", took.Round(100*time.Millisecond), hostileReadTimeout, int(took/time.Second)+1, len(req))
	})

	t.Run("TCP client that never starts TLS", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		require.NoError(t, err)
		defer conn.Close()
		start := time.Now()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(15*time.Second)))
		_, err = conn.Read(make([]byte, 1))
		took := time.Since(start)
		require.Error(t, err)
		assert.True(t, closedByPeer(err), "want the server to close the connection, got %v", err)
		assert.Less(t, took, 7*time.Second, "closed by the handshake timeout (2s)")
		t.Logf("closed after %s", took.Round(100*time.Millisecond))
	})

	assertStillServes(t, s)
}

// TestHostileNeverReads: clients that send requests with large answers
// and never read them fill their TCP windows; the server's writes then
// block until server.write_timeout (2s here), which closes the
// connections and frees their goroutines and connection slots. With
// server.max_connections at 4, four such clients hold every slot (a fifth
// client is refused at once); once the write timeout has run, a
// well-behaved client is served again.
func TestHostileNeverReads(t *testing.T) {
	const slots = 4
	s := startHostile(t, "KMIP_ADAPTER_SERVER_MAX_CONNECTIONS=4")

	// An opaque object of 900 KB: each Get of it answers 900 KB, more
	// than the socket buffers hold after a few, at almost no cost.
	reg := request14(batchItem(kmip14.OperationRegister,
		enumOf(kmip14.TagObjectType, uint32(kmip14.ObjectTypeOpaqueObject)), structOf(kmip14.TagTemplateAttribute),
		structOf(kmip14.TagOpaqueObject, enumOf(kmip14.TagOpaqueDataType, 0x80000001), bytesOf(kmip14.TagOpaqueDataValue, make([]byte, 900<<10)))))
	setup, err := dialTLS(s, s.clientTLS(t))
	require.NoError(t, err)
	resp, err := roundTrip(setup, reg)
	_ = setup.Close()
	require.NoError(t, err)
	require.Len(t, resp.BatchItem, 1)
	require.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus, resp.BatchItem[0].ResultMessage)
	raw, ok := resp.BatchItem[0].ResponsePayload.(ttlv.TTLV)
	require.True(t, ok)
	var registered gkmip.RegisterResponsePayload
	require.NoError(t, ttlv.Unmarshal(raw, &registered))
	id := registered.UniqueIdentifier
	get := request14(batchItem(kmip14.OperationGet, textOf(kmip14.TagUniqueIdentifier, id)))

	var wg sync.WaitGroup
	var stuck []*tls.Conn
	for range slots {
		raw, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, raw.(*net.TCPConn).SetReadBuffer(4096)) // a small window, never read
		cfg := s.clientTLS(t)
		cfg.ServerName = "127.0.0.1"
		conn := tls.Client(raw, cfg)
		require.NoError(t, conn.Handshake())
		stuck = append(stuck, conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			for range 20 { // 18 MB of answers
				if _, err := conn.Write(get); err != nil {
					return // the server stopped reading, then closed
				}
			}
		}()
	}
	defer func() {
		for _, c := range stuck {
			_ = c.Close()
		}
		wg.Wait()
	}()
	time.Sleep(500 * time.Millisecond) // the server is writing, blocked

	// Every slot is taken: a fifth client is turned away at once.
	if conn, err := dialTLS(s, s.clientTLS(t)); err == nil {
		_, err = roundTrip(conn, discoverVersionsRequest(t))
		_ = conn.Close()
		assert.Error(t, err, "a fifth client while four hold every slot")
	}

	// After the write timeout the stuck connections are closed and their
	// slots free: a new client is served again.
	freed := time.Now()
	for {
		conn, err := dialTLS(s, s.clientTLS(t))
		if err == nil {
			_, err = roundTrip(conn, discoverVersionsRequest(t))
			_ = conn.Close()
		}
		if err == nil {
			break
		}
		// The server is blocked writing once the buffers are full (a
		// second or so), then for the write timeout.
		require.Less(t, time.Since(freed), hostileWriteTimeout+4*time.Second, "no slot freed: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("a slot was free %s after the stuck clients began (write timeout %s)", (time.Since(freed) + 500*time.Millisecond).Round(100*time.Millisecond), hostileWriteTimeout)
	rss := assertStillServes(t, s)
	t.Logf("after the write timeout a new client is served; server resident memory %d MiB", rss>>20)
	for i, c := range stuck {
		// What the server had sent is still buffered; past it, the
		// connection ends.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var err error
		buf := make([]byte, 64<<10)
		for err == nil {
			_, err = c.Read(buf)
		}
		assert.True(t, closedByPeer(err), "stuck client %d: want the server's close, got %v", i, err)
	}
}

// TestHostileConnectionBurst: 10,000 connection attempts in a burst, 500
// at a time: every one gets a TLS handshake and an answer, or is turned
// away cleanly when server.max_connections (1024) is reached; none hangs,
// the whole burst ends within two minutes, and the server then serves a
// well-behaved client with bounded memory. Nine attempts in ten resume a
// TLS session, as a fleet of reconnecting clients does; the others make a
// full handshake (an RSA signature on the server each).
func TestHostileConnectionBurst(t *testing.T) {
	const (
		attempts    = 10000
		concurrency = 500
	)
	s := startHostile(t)
	before := s.rss(t)
	full := s.clientTLS(t)
	full.ServerName = "127.0.0.1"
	resumed := full.Clone()
	resumed.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	req := discoverVersionsRequest(t)

	var served, refused, failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				cfg := resumed
				if i%10 == 0 {
					cfg = full
				}
				switch err := burstAttempt(s.addr, cfg, req); {
				case err == nil:
					served.Add(1)
				case closedByPeer(err):
					refused.Add(1)
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	for i := range attempts {
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	t.Logf("%d attempts, %d at a time, in %s: %d served, %d turned away; server resident memory %d MiB before, %d MiB after",
		attempts, concurrency, took.Round(time.Millisecond), served.Load(), refused.Load(), before>>20, s.rss(t)>>20)
	assert.Zero(t, failed.Load(), "attempts neither served nor turned away cleanly (first: %v)", firstErr.Load())
	assert.Equal(t, int64(attempts), served.Load()+refused.Load()+failed.Load())
	assert.Positive(t, served.Load())
	assert.Less(t, took, 2*time.Minute)
	assertStillServes(t, s)
}

// burstAttempt connects, handshakes, sends one Discover Versions and
// reads its answer, all within 20 seconds.
func burstAttempt(addr string, cfg *tls.Config, req []byte) error {
	d := &net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
	conn := tls.Client(raw, cfg)
	if err := conn.Handshake(); err != nil {
		return err
	}
	if _, err := conn.Write(req); err != nil {
		return err
	}
	resp, err := readResponse(conn)
	if err != nil {
		return err
	}
	if len(resp.BatchItem) != 1 || resp.BatchItem[0].ResultStatus != kmip14.ResultStatusSuccess {
		return errors.New("not a successful answer")
	}
	return nil
}
