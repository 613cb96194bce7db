package client

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// RequestHeader is what a client puts in a request's header (KMIP 1.4
// section 7.2); BatchCount is filled in from the items.
type RequestHeader struct {
	Version message.Version
	// MaximumResponseSize, when not 0, asks the server to keep its answer
	// under that many bytes.
	MaximumResponseSize int32
	// BatchErrorContinuation is one of message.BatchErrorContinue, Stop or
	// Undo; 0 leaves it to the server (Stop).
	BatchErrorContinuation uint32
}

// Item is one batch item of a request. Payload is a struct with ttlv field
// tags (encoded as the Request Payload), a ttlv.TTLV tagged Request
// Payload (sent byte for byte), or nil for an empty payload.
type Item struct {
	Operation message.Operation
	Payload   any
}

// EncodeRequest encodes a request message of items. With batchIDs, every
// item carries an 8-byte Unique Batch Item ID, counting up from firstID.
func EncodeRequest(h RequestHeader, items []Item, batchIDs bool, firstID uint64) ([]byte, error) {
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	err := e.EncodeStructure(kmip14.TagRequestMessage, func(e *ttlv.Encoder) error {
		if err := e.EncodeStructure(kmip14.TagRequestHeader, func(e *ttlv.Encoder) error {
			if err := e.EncodeStructure(kmip14.TagProtocolVersion, func(e *ttlv.Encoder) error {
				e.EncodeInteger(kmip14.TagProtocolVersionMajor, h.Version.Major)
				e.EncodeInteger(kmip14.TagProtocolVersionMinor, h.Version.Minor)
				return nil
			}); err != nil {
				return err
			}
			if h.MaximumResponseSize > 0 {
				e.EncodeInteger(kmip14.TagMaximumResponseSize, h.MaximumResponseSize)
			}
			if h.BatchErrorContinuation != 0 {
				e.EncodeEnumeration(kmip14.TagBatchErrorContinuationOption, h.BatchErrorContinuation)
			}
			e.EncodeInteger(kmip14.TagBatchCount, int32(len(items)))
			return nil
		}); err != nil {
			return err
		}
		for i, it := range items {
			if err := e.EncodeStructure(kmip14.TagBatchItem, func(e *ttlv.Encoder) error {
				e.EncodeEnumeration(kmip14.TagOperation, uint32(it.Operation))
				if batchIDs {
					var id [8]byte
					binary.BigEndian.PutUint64(id[:], firstID+uint64(i))
					e.EncodeByteString(kmip14.TagUniqueBatchItemID, id[:])
				}
				switch p := it.Payload.(type) {
				case nil:
					return e.EncodeStructure(kmip14.TagRequestPayload, func(*ttlv.Encoder) error { return nil })
				case ttlv.TTLV:
					if p.Tag() != kmip14.TagRequestPayload {
						return fmt.Errorf("raw payload tagged %s, want RequestPayload", p.Tag())
					}
					return e.EncodeValue(kmip14.TagRequestPayload, p)
				default:
					return e.EncodeValue(kmip14.TagRequestPayload, p)
				}
			}); err != nil {
				return fmt.Errorf("%s: %w", it.Operation, err)
			}
		}
		return nil
	})
	if err == nil {
		err = e.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("kmip: encode request: %s", firstLine(err.Error()))
	}
	return buf.Bytes(), nil
}

// Response is a decoded response message.
type Response struct {
	Version   message.Version
	TimeStamp time.Time
	Items     []Result
}

// Result is one batch item of a response. Payload is the raw Response
// Payload item (empty for most failures).
type Result struct {
	Operation         message.Operation
	UniqueBatchItemID []byte
	Status            kmip14.ResultStatus
	Reason            message.Reason
	Message           string
	Payload           ttlv.TTLV
}

// Err returns nil for a successful item and a *ResultError otherwise.
func (r Result) Err() error {
	if r.Status == message.StatusSuccess {
		return nil
	}
	return &ResultError{Operation: r.Operation, Status: r.Status, Reason: r.Reason, Message: r.Message}
}

// ResultError is a batch item that did not succeed.
type ResultError struct {
	Operation message.Operation
	Status    kmip14.ResultStatus
	Reason    message.Reason
	Message   string
}

func (e *ResultError) Error() string {
	op := "request"
	if e.Operation != 0 {
		op = e.Operation.String()
	}
	s := fmt.Sprintf("kmip: %s: %s", op, e.Status)
	if e.Reason != 0 {
		s += ": " + e.Reason.String()
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// DecodeResponse reads a response message that wire.Check accepted,
// walking its items without reflection (a load generator reads many).
func DecodeResponse(msg ttlv.TTLV) (*Response, error) {
	if msg.Tag() != kmip14.TagResponseMessage || msg.Type() != ttlv.TypeStructure {
		return nil, fmt.Errorf("kmip: response is a %s %s, not a Response Message", msg.Tag(), msg.Type())
	}
	resp := &Response{}
	count := int32(-1)
	for c := msg.ValueStructure(); len(c) >= wire.HeaderLen; c = c[c.FullLen():] {
		switch c.Tag() {
		case kmip14.TagResponseHeader:
			for h := c.ValueStructure(); len(h) >= wire.HeaderLen; h = h[h.FullLen():] {
				switch h.Tag() {
				case kmip14.TagProtocolVersion:
					for v := h.ValueStructure(); len(v) >= wire.HeaderLen; v = v[v.FullLen():] {
						switch {
						case v.Tag() == kmip14.TagProtocolVersionMajor && v.Type() == ttlv.TypeInteger:
							resp.Version.Major = v.ValueInteger()
						case v.Tag() == kmip14.TagProtocolVersionMinor && v.Type() == ttlv.TypeInteger:
							resp.Version.Minor = v.ValueInteger()
						}
					}
				case kmip14.TagTimeStamp:
					if h.Type() == ttlv.TypeDateTime {
						resp.TimeStamp = h.ValueDateTime()
					}
				case kmip14.TagBatchCount:
					if h.Type() == ttlv.TypeInteger {
						count = h.ValueInteger()
					}
				}
			}
		case kmip14.TagBatchItem:
			resp.Items = append(resp.Items, decodeItem(c))
		}
	}
	if count < 0 {
		return nil, fmt.Errorf("kmip: response has no Response Header with a Batch Count")
	}
	if int(count) != len(resp.Items) {
		return nil, fmt.Errorf("kmip: response Batch Count is %d but it holds %d items", count, len(resp.Items))
	}
	return resp, nil
}

func decodeItem(item ttlv.TTLV) Result {
	var r Result
	status := false
	for c := item.ValueStructure(); len(c) >= wire.HeaderLen; c = c[c.FullLen():] {
		switch c.Tag() {
		case kmip14.TagOperation:
			if c.Type() == ttlv.TypeEnumeration {
				r.Operation = message.Operation(c.ValueEnumeration())
			}
		case kmip14.TagUniqueBatchItemID:
			if c.Type() == ttlv.TypeByteString {
				r.UniqueBatchItemID = c.ValueByteString()
			}
		case kmip14.TagResultStatus:
			if c.Type() == ttlv.TypeEnumeration {
				r.Status, status = kmip14.ResultStatus(c.ValueEnumeration()), true
			}
		case kmip14.TagResultReason:
			if c.Type() == ttlv.TypeEnumeration {
				r.Reason = message.Reason(c.ValueEnumeration())
			}
		case kmip14.TagResultMessage:
			if c.Type() == ttlv.TypeTextString {
				r.Message = c.ValueTextString()
			}
		case kmip14.TagResponsePayload:
			r.Payload = c[:c.FullLen()]
		}
	}
	if !status {
		r.Status = kmip14.ResultStatusOperationFailed
		if r.Message == "" {
			r.Message = "the batch item has no Result Status"
		}
	}
	return r
}

// Decode unmarshals a response payload (or any item) into v, a struct
// with ttlv field tags.
func Decode(payload ttlv.TTLV, v any) error {
	if len(payload) == 0 {
		return fmt.Errorf("kmip: the response has no payload")
	}
	if err := wire.Decode(payload, v); err != nil {
		return fmt.Errorf("kmip: decode %s: %w", payload.Tag(), err)
	}
	return nil
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
