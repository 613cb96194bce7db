package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Helpers of the hostile_*_test.go files: a server of their own with short
// timeouts, its memory, and TTLV built byte by byte (what no codec lets
// one write: lying lengths, unknown types, invalid UTF-8).

// Timeouts of the hostile server: short, so that slow and stuck clients
// are dealt with within a test's time.
const (
	hostileReadTimeout  = 5 * time.Second
	hostileWriteTimeout = 5 * time.Second
	hostileIdleTimeout  = 12 * time.Second
	// hostileRSSLimit bounds the server's resident memory after each
	// hostile case (it starts at about 30 MiB).
	hostileRSSLimit = 256 << 20
)

// hostileDev is one development directory for every hostile server (each
// runs on its own store file, so that they may follow each other freely).
var hostileDev struct {
	once sync.Once
	dir  string
	err  error
}

// startHostile starts a server on the hostile development directory with
// the short timeouts and env added, on a fresh store, and stops it when
// the test ends (it must drain and exit 0).
func startHostile(t *testing.T, env ...string) *server {
	t.Helper()
	requireSoftHSM(t)
	adapter, ctl := bin(t, "kmip-adapter"), bin(t, "kmipctl")
	hostileDev.once.Do(func() {
		hostileDev.dir = filepath.Join(suite.tmp, "hostile")
		hostileDev.err = devInit(ctl, hostileDev.dir)
	})
	require.NoError(t, hostileDev.err)
	base := []string{
		"KMIP_ADAPTER_SERVER_READ_TIMEOUT=" + hostileReadTimeout.String(),
		"KMIP_ADAPTER_SERVER_WRITE_TIMEOUT=" + hostileWriteTimeout.String(),
		"KMIP_ADAPTER_SERVER_IDLE_TIMEOUT=" + hostileIdleTimeout.String(),
		"KMIP_ADAPTER_SERVER_SHUTDOWN_TIMEOUT=5s",
		"KMIP_ADAPTER_STORE_PATH=" + filepath.Join(t.TempDir(), "store.db"),
	}
	s, err := startServer(adapter, hostileDev.dir, append(base, env...))
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := s.stopCleanly(); err != nil {
			t.Errorf("hostile server: %v", err)
		}
	})
	return s
}

// rss is the server process's resident memory in bytes (VmRSS).
func (s *server) rss(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	require.NoError(t, err, "the server process is gone")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			kb, err := strconv.ParseInt(f[0], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", s.cmd.Process.Pid)
	return 0
}

// assertStillServes checks, after a hostile case, that the process is
// alive, answers a well-behaved client (Discover Versions on a new
// connection; a Create and Get with ovh/kmip-go) and holds bounded
// memory. It returns the resident memory.
func assertStillServes(t *testing.T, s *server) int64 {
	t.Helper()
	select {
	case <-s.exited:
		t.Fatalf("the server exited (%v); its output:\n%s", s.waitErr, s.log.String())
	default:
	}
	// A slot the case's last client held frees once the server has seen
	// that client close, which may be a moment after the close: a refused
	// connection (closed at once: the client reads a reset or an end of
	// stream, depending on timing) is tried again for up to two seconds.
	var resp gkmip.ResponseMessage
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var conn *tls.Conn
		if conn, err = dialTLS(s, s.clientTLS(t)); err == nil {
			resp, err = roundTrip(conn, discoverVersionsRequest(t))
			_ = conn.Close()
		}
		if err == nil || !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) || time.Now().After(deadline) {
			break
		}
	}
	require.NoError(t, err, "a well-behaved client must still connect and be answered")
	require.Len(t, resp.BatchItem, 1)
	assert.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus)

	c := ovhDial(t, s, kmip.V1_4)
	id := ovhCreateAES(t, c, 128)
	_, material := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	assert.Len(t, material, 16)
	_ = c.Close()

	rss := s.rss(t)
	assert.Less(t, rss, int64(hostileRSSLimit), "server resident memory")
	return rss
}

// TTLV built by hand (KMIP 1.4 section 9.1).

// item encodes one item with the given type and raw value, padding the
// value to 8 bytes; the length field is the value's length.
func item(tag ttlv.Tag, typ ttlv.Type, value []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(tag)<<8|uint32(typ))
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	b = append(b, value...)
	if pad := len(value) % 8; pad != 0 {
		b = append(b, make([]byte, 8-pad)...)
	}
	return b
}

func structOf(tag ttlv.Tag, children ...[]byte) []byte {
	return item(tag, ttlv.TypeStructure, bytes.Join(children, nil))
}

func intOf(tag ttlv.Tag, v int32) []byte {
	return item(tag, ttlv.TypeInteger, binary.BigEndian.AppendUint32(nil, uint32(v)))
}

func enumOf(tag ttlv.Tag, v uint32) []byte {
	return item(tag, ttlv.TypeEnumeration, binary.BigEndian.AppendUint32(nil, v))
}

func textOf(tag ttlv.Tag, s string) []byte { return item(tag, ttlv.TypeTextString, []byte(s)) }

func bytesOf(tag ttlv.Tag, b []byte) []byte { return item(tag, ttlv.TypeByteString, b) }

func dateOf(tag ttlv.Tag, unix int64) []byte {
	return item(tag, ttlv.TypeDateTime, binary.BigEndian.AppendUint64(nil, uint64(unix)))
}

func intervalOf(tag ttlv.Tag, seconds uint32) []byte {
	return item(tag, ttlv.TypeInterval, binary.BigEndian.AppendUint32(nil, seconds))
}

// bigOf is a Big Integer of n bytes (a multiple of 8), all fill.
func bigOf(tag ttlv.Tag, n int, fill byte) []byte {
	return item(tag, ttlv.TypeBigInteger, bytes.Repeat([]byte{fill}, n))
}

// requestOf is a Request Message of version major.minor holding items
// (Batch Item structures), with a Batch Count of count.
func requestOf(major, minor int32, count int32, items ...[]byte) []byte {
	hdr := structOf(kmip14.TagRequestHeader,
		structOf(kmip14.TagProtocolVersion, intOf(kmip14.TagProtocolVersionMajor, major), intOf(kmip14.TagProtocolVersionMinor, minor)),
		intOf(kmip14.TagBatchCount, count))
	return structOf(kmip14.TagRequestMessage, append([][]byte{hdr}, items...)...)
}

// batchItem is a Batch Item for operation op with the payload's children.
func batchItem(op kmip14.Operation, payload ...[]byte) []byte {
	return structOf(kmip14.TagBatchItem, enumOf(kmip14.TagOperation, uint32(op)),
		structOf(kmip14.TagRequestPayload, payload...))
}

// request14 is a 1.4 request with these batch items and a true count.
func request14(items ...[]byte) []byte { return requestOf(1, 4, int32(len(items)), items...) }

// attr14 is a 1.x Attribute.
func attr14(name string, value []byte) []byte {
	return structOf(kmip14.TagAttribute, textOf(kmip14.TagAttributeName, name), value)
}

// createAES14 is a 1.4 Create payload for AES-256 with extra attributes.
func createAES14(extra ...[]byte) []byte {
	attrs := append([][]byte{
		attr14("Cryptographic Algorithm", enumOf(kmip14.TagAttributeValue, uint32(kmip14.CryptographicAlgorithmAES))),
		attr14("Cryptographic Length", intOf(kmip14.TagAttributeValue, 256)),
	}, extra...)
	return bytes.Join([][]byte{
		enumOf(kmip14.TagObjectType, uint32(kmip14.ObjectTypeSymmetricKey)),
		structOf(kmip14.TagTemplateAttribute, attrs...),
	}, nil)
}

// readAny reads one response with a larger limit than readResponse (a
// batch of thousands of items), and decodes it.
func readAny(r io.Reader, limit int) (gkmip.ResponseMessage, error) {
	var resp gkmip.ResponseMessage
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return resp, err
	}
	n := int(binary.BigEndian.Uint32(hdr[4:]))
	if n > limit {
		return resp, fmt.Errorf("response header claims %d bytes", n)
	}
	msg := make([]byte, 8+n)
	copy(msg, hdr)
	if _, err := io.ReadFull(r, msg[8:]); err != nil {
		return resp, err
	}
	if msg := ttlv.TTLV(msg); msg.Valid() != nil || msg.Tag() != kmip14.TagResponseMessage {
		return resp, errors.New("not a valid Response Message")
	}
	err := ttlv.Unmarshal(msg, &resp)
	return resp, err
}

// closedByPeer reports whether a read error means the server closed the
// connection (EOF, reset, or a TLS close).
func closedByPeer(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// halfClose ends the client's sending side (a TLS close_notify) and keeps
// reading.
func halfClose(t *testing.T, conn *tls.Conn) {
	t.Helper()
	require.NoError(t, conn.CloseWrite())
}
