package message

import (
	"errors"
	"fmt"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// Operation is a KMIP Operation enumeration value.
type Operation = kmip20.Operation

// Batch Error Continuation Option values (KMIP 1.4 section 9.1.3.2.30).
const (
	BatchErrorContinue = 1
	BatchErrorStop     = 2
	BatchErrorUndo     = 3
)

// Result Status values (KMIP 1.4 section 9.1.3.2.28).
const (
	StatusSuccess         = kmip14.ResultStatusSuccess
	StatusOperationFailed = kmip14.ResultStatusOperationFailed
	StatusOperationUndone = kmip14.ResultStatusOperationUndone
)

// RequestHeader is the header of a request message (KMIP 1.4 section 7.2).
// Fields a version lacks are simply absent on the wire and zero here.
type RequestHeader struct {
	ProtocolVersion              Version
	MaximumResponseSize          int32
	ClientCorrelationValue       string
	ServerCorrelationValue       string
	AsynchronousIndicator        bool
	AttestationCapableIndicator  bool
	Authentication               ttlv.TTLV
	BatchErrorContinuationOption uint32 `ttlv:",enum"`
	BatchOrderOption             bool
	TimeStamp                    time.Time
	BatchCount                   int32
}

// RequestBatchItem is one operation of a request.
type RequestBatchItem struct {
	Operation         Operation
	Ephemeral         bool `ttlv:"Ephemeral"`
	UniqueBatchItemID []byte
	RequestPayload    ttlv.TTLV
	MessageExtension  ttlv.TTLV
}

// Request is a decoded request message.
type Request struct {
	Header  RequestHeader      `ttlv:"RequestHeader"`
	Items   []RequestBatchItem `ttlv:"BatchItem"`
	TTLVTag struct{}           `ttlv:"RequestMessage"`
}

// ResponseHeader is the header of a response message.
type ResponseHeader struct {
	ProtocolVersion        Version
	TimeStamp              time.Time
	ClientCorrelationValue string `ttlv:",omitempty"`
	ServerCorrelationValue string `ttlv:",omitempty"`
	BatchCount             int32
}

// ResponseBatchItem is the result of one operation.
type ResponseBatchItem struct {
	Operation         Operation `ttlv:",omitempty"`
	UniqueBatchItemID []byte    `ttlv:",omitempty"`
	ResultStatus      kmip14.ResultStatus
	ResultReason      Reason `ttlv:",omitempty"`
	ResultMessage     string `ttlv:",omitempty"`
	// ResponsePayload is a payload struct, or nil for a failed item.
	ResponsePayload any `ttlv:",omitempty"`
}

// Response is a response message.
type Response struct {
	TTLVTag struct{}            `ttlv:"ResponseMessage"`
	Header  ResponseHeader      `ttlv:"ResponseHeader"`
	Items   []ResponseBatchItem `ttlv:"BatchItem"`
}

// ErrNotRequest means a well-formed TTLV message is not a Request Message.
var ErrNotRequest = errors.New("not a KMIP request message")

// DecodeRequest decodes a request message that wire.Check accepted.
// Whatever the reflection decoder does with hostile input (it panics on
// some type mismatches) comes back as an error.
func DecodeRequest(msg ttlv.TTLV) (req *Request, err error) {
	if msg.Tag() != kmip14.TagRequestMessage {
		return nil, fmt.Errorf("%w: top-level tag %s", ErrNotRequest, msg.Tag())
	}
	req = &Request{}
	if err := Unmarshal(msg, req); err != nil {
		return nil, err
	}
	return req, nil
}

// PeekVersion finds the protocol version in a request that failed to
// decode, so that the error response is at least in the client's version.
// It returns ok=false when no version can be read.
func PeekVersion(msg ttlv.TTLV) (v Version, ok bool) {
	var probe struct {
		TTLVTag struct{} `ttlv:"RequestMessage"`
		Header  struct {
			ProtocolVersion Version
		} `ttlv:"RequestHeader"`
	}
	if Unmarshal(msg, &probe) != nil || probe.Header.ProtocolVersion == (Version{}) {
		return Version{}, false
	}
	return probe.Header.ProtocolVersion, true
}

// Unmarshal decodes a TTLV value into v; see wire.Decode. The request
// envelope and the hot payloads are read by hand (fastcodec.go) when they
// have their usual shape.
func Unmarshal(msg ttlv.TTLV, v any) error {
	if d, ok := v.(fastDecoder); ok {
		item, err := wire.CheckFirst(msg)
		if err != nil {
			return err
		}
		if d.decodeFast(item) {
			return nil
		}
	}
	return wire.Decode(msg, v)
}

// Marshal encodes v (a message, payload or value) as TTLV. A response
// whose payloads have hand-written encoders is written by hand
// (fastcodec.go), with the same bytes.
func Marshal(v any) (ttlv.TTLV, error) {
	switch r := v.(type) {
	case *Response:
		if b, ok := r.marshalFast(); ok {
			return b, nil
		}
	case Response:
		if b, ok := r.marshalFast(); ok {
			return b, nil
		}
	}
	return marshalReflect(v)
}

// marshalReflect is Marshal through gemalto's reflection encoder.
func marshalReflect(v any) (ttlv.TTLV, error) {
	b, err := ttlv.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %s", firstLine(err.Error()))
	}
	return b, nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
