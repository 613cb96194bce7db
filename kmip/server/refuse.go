package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// ConnIdentifier maps a connection's verified TLS state to the client it
// is. It sees the whole peer chain (per-tenant trust of external CAs) and
// the remote address (audit). A *message.Error refuses the client with
// that Result Reason on its first request; any other error closes the
// connection.
type ConnIdentifier func(ctx context.Context, state tls.ConnectionState, remote string) (ops.Client, error)

// SetConnIdentifier makes the server identify clients with id instead of
// the Identifier given to New (set it before Serve).
func (s *Server) SetConnIdentifier(id ConnIdentifier) { s.identifyConn = id }

// identifyPeer runs the connection identifier, or the certificate one.
func (s *Server) identifyPeer(state tls.ConnectionState, remote string) (ops.Client, error) {
	if s.identifyConn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ReadTimeout)
		defer cancel()
		return s.identifyConn(ctx, state, remote)
	}
	return s.identify(state.PeerCertificates[0])
}

// refuse answers the first request of a client that identification
// refused with a KMIP error (Authentication Not Successful), so that the
// client's operator reads why instead of a bare closed connection; the
// connection then closes.
func (s *Server) refuse(conn *tls.Conn, err error, log zerolog.Logger) {
	var me *message.Error
	if !errors.As(err, &me) {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	msg, rerr := wire.ReadFrame(bufio.NewReader(conn), s.cfg.MaxMessageSize)
	if rerr != nil {
		log.Debug().Err(rerr).Msg("refused client sent no request")
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, werr := conn.Write(s.exec.Refuse(msg, me)); werr != nil {
		log.Debug().Err(werr).Msg("write refusal failed")
	}
}

// Refuse answers a request message whose client is refused: every batch
// item fails with err, in the request's version, echoing each item's
// operation and Unique Batch Item ID.
func (x *Executor) Refuse(msg []byte, err error) []byte {
	if wire.Check(msg) != nil {
		return x.failure(message.V1_0, err)
	}
	req, derr := message.DecodeRequest(msg)
	if derr != nil || len(req.Items) == 0 {
		v, ok := message.PeekVersion(msg)
		if !ok {
			v = message.V1_0
		}
		return x.failure(message.Negotiate(v), err)
	}
	v := message.Negotiate(req.Header.ProtocolVersion)
	resp := &message.Response{Header: x.header(v)}
	if v.AtLeast(message.V1_4) {
		resp.Header.ClientCorrelationValue = req.Header.ClientCorrelationValue
	}
	out, merr := message.Marshal(x.refuseItems(v, resp, req.Items, err))
	if merr != nil {
		return x.failure(v, err)
	}
	return out
}

// refuseItems fails every item of a request with err.
func (x *Executor) refuseItems(v message.Version, resp *message.Response, items []message.RequestBatchItem, err error) *message.Response {
	for _, item := range items {
		resp.Items = append(resp.Items, x.failed(v, item.Operation, item.UniqueBatchItemID, err))
	}
	resp.Header.BatchCount = int32(len(resp.Items))
	return resp
}
