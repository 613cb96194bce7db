package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// lockedBuffer is a log destination the connection goroutines write to
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		out = append(out, m)
	}
	return out
}

// TestRequestLogLinesNameConnectionAndRequest: at debug level every
// answered item logs a "request" line with its connection's fields and
// the request's number on that connection (the listener keeps the number
// in the request's context instead of making a logger per request).
func TestRequestLogLinesNameConnectionAndRequest(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, certs.DevPKI(dir, certs.DevPKIOptions{KeyType: certs.KeyTypeECDSA}))
	tlsCfg, err := server.TLSConfig(config.TLS{
		CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key"),
		ClientCAFile: filepath.Join(dir, "ca.crt"), MinVersion: "1.2", CipherPreset: "strict",
	})
	require.NoError(t, err)
	logs := &lockedBuffer{}
	srv := server.New(config.Default().Server, tlsCfg, kmiptest.NewExecutor(t), server.SingleTenant("t"),
		zerolog.New(logs).Level(zerolog.DebugLevel))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })

	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	require.NoError(t, err)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, err)
	defer c.Close()
	for range 3 {
		r := roundTrip(t, c, queryMsg(t))
		require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus)
	}

	var numbers []float64
	for _, l := range logs.lines(t) {
		if l["message"] != "request" {
			continue
		}
		assert.Equal(t, "debug", l["level"])
		assert.Equal(t, float64(1), l["conn"], "the connection's fields")
		assert.Equal(t, "t", l["tenant"])
		assert.Equal(t, "Query", l["operation"])
		assert.Equal(t, "1.4", l["version"])
		numbers = append(numbers, l["request"].(float64))
	}
	assert.Equal(t, []float64{1, 2, 3}, numbers, "one line per request, numbered on the connection")
}
