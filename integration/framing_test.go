package integration

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestHeader is the 8-byte TTLV header of a Request Message (tag
// 0x420078, type Structure) whose body claims length bytes.
func requestHeader(length uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{0x42, 0x00, 0x78, 0x01}, length)
}

// TestBadFrames sends what is not a KMIP request. The server must answer
// with an Invalid Message response at once; when the frame cannot be
// skipped it then closes the connection. The headline case is the 8-byte
// header of a Request Message that claims a body of almost 2 GiB:
// server.max_message_size is 1 MiB, so the server must refuse it from the
// header alone, neither waiting for nor allocating the body. Afterwards
// the server still serves other clients.
func TestBadFrames(t *testing.T) {
	s := mainServer(t)

	tests := []struct {
		name string
		send []byte
		// closes: the server must close the connection after answering.
		closes bool
	}{
		{"header claiming 2 GiB", requestHeader(0x7FFFFFF8), true},
		{"header one byte over max_message_size", requestHeader(1<<20 - 8 + 1), true},
		{"not a structure", []byte{0x42, 0x00, 0x78, 0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0}, true},
		{"not TTLV at all", []byte("GET / HTTP/1.1\r\nHost: kmip\r\n\r\n"), true},
		// A well-formed TTLV structure that is no request: the frame was
		// read whole, so the connection can go on.
		{"a Response Message", []byte{0x42, 0x00, 0x7B, 0x01, 0, 0, 0, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := dialTLS(s, s.clientTLS(t))
			require.NoError(t, err)
			defer conn.Close()

			require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
			start := time.Now()
			_, err = conn.Write(tt.send)
			require.NoError(t, err)
			resp, err := readResponse(conn)
			took := time.Since(start)
			require.NoError(t, err, "no KMIP response within 5s")
			t.Logf("Invalid Message answer in %s", took.Round(time.Millisecond))
			assert.Less(t, took, 5*time.Second)

			assert.Equal(t, 1, resp.ResponseHeader.BatchCount)
			require.Len(t, resp.BatchItem, 1)
			item := resp.BatchItem[0]
			assert.Equal(t, kmip14.ResultStatusOperationFailed, item.ResultStatus)
			assert.Equal(t, kmip14.ResultReasonInvalidMessage, item.ResultReason, "result message: %q", item.ResultMessage)

			if tt.closes {
				n, err := conn.Read(make([]byte, 1))
				assert.Zero(t, n)
				assert.True(t, errors.Is(err, io.EOF), "want EOF after the Invalid Message answer, got %v", err)
				return
			}
			resp, err = roundTrip(conn, discoverVersionsRequest(t))
			require.NoError(t, err, "the connection must still serve requests")
			require.Len(t, resp.BatchItem, 1)
			assert.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus)
		})
	}

	t.Run("other clients are still served", func(t *testing.T) {
		c := ovhDial(t, s, kmip.V1_4)
		id := ovhCreateAES(t, c, 256)
		_, material := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		assert.Len(t, material, 32)
		if pykmipAvailable() == nil {
			createWithPyKMIP(t, s, "1.4", 1, 128)
		}
	})
}
