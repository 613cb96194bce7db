package integration

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/require"
)

// This file talks KMIP by hand over crypto/tls, with the gemalto TTLV
// codec: for what no KMIP client lets one do (odd frames, TLS settings).

// maxResponse bounds what the tests read as one response.
const maxResponse = 1 << 20

// dialTLS opens a TLS connection to s with cfg and completes the
// handshake within a few seconds.
func dialTLS(s *server, cfg *tls.Config) (*tls.Conn, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	conn, err := d.Dial("tcp", s.addr)
	if err != nil {
		return nil, err
	}
	return conn.(*tls.Conn), nil
}

// discoverVersionsRequest is a KMIP 1.4 request message holding one
// DiscoverVersions with an empty payload.
func discoverVersionsRequest(t testing.TB) []byte {
	t.Helper()
	msg := gkmip.RequestMessage{
		RequestHeader: gkmip.RequestHeader{
			ProtocolVersion: gkmip.ProtocolVersion{ProtocolVersionMajor: 1, ProtocolVersionMinor: 4},
			BatchCount:      1,
		},
		BatchItem: []gkmip.RequestBatchItem{{
			Operation:      kmip14.OperationDiscoverVersions,
			RequestPayload: gkmip.DiscoverVersionsRequestPayload{},
		}},
	}
	b, err := ttlv.Marshal(msg)
	require.NoError(t, err)
	return b
}

// readMessage reads one TTLV message from r: the 8-byte header, then the
// body of the length it gives.
func readMessage(r io.Reader) (ttlv.TTLV, error) {
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > maxResponse {
		return nil, fmt.Errorf("response header claims %d bytes", n)
	}
	msg := make([]byte, 8+int(n))
	copy(msg, hdr)
	if _, err := io.ReadFull(r, msg[8:]); err != nil {
		return nil, fmt.Errorf("response body: %w", err)
	}
	return msg, nil
}

// readResponse reads and decodes one KMIP response message.
func readResponse(r io.Reader) (gkmip.ResponseMessage, error) {
	var resp gkmip.ResponseMessage
	msg, err := readMessage(r)
	if err != nil {
		return resp, err
	}
	if err := msg.Valid(); err != nil {
		return resp, fmt.Errorf("response is not valid TTLV: %w", err)
	}
	if msg.Tag() != kmip14.TagResponseMessage {
		return resp, fmt.Errorf("response is a %s, not a Response Message", msg.Tag())
	}
	if err := ttlv.Unmarshal(msg, &resp); err != nil {
		return resp, fmt.Errorf("decode response: %w\n%s", err, msg)
	}
	return resp, nil
}

// roundTrip writes req on conn and reads the response, with deadlines.
func roundTrip(conn net.Conn, req []byte) (gkmip.ResponseMessage, error) {
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return gkmip.ResponseMessage{}, err
	}
	if _, err := conn.Write(req); err != nil {
		return gkmip.ResponseMessage{}, err
	}
	return readResponse(conn)
}
