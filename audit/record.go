package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
)

// SourceAudit marks the records the sink writes about itself: the log
// opened or closed, a torn record found after a crash.
const SourceAudit = "audit"

// The sink's own operations (Source SourceAudit).
const (
	OpStart     = "audit.start"     // the log was opened (a server start)
	OpStop      = "audit.stop"      // the log was closed cleanly
	OpRecovered = "audit.recovered" // a torn record was found and set aside
)

// Record is one line of the log: the event, its place in the chain and,
// for an OpRecovered record, what it acknowledges.
//
// A line is the JSON of the Record without its MAC (the body) with
// `,"mac":"<64 hex digits>"` inserted before the closing brace, then a
// newline. The MAC is
//
//	HMAC-SHA256(chain key, "kmip-adapter/audit/v1" 0x00 || MAC of the previous record || body)
//
// where the first record's previous MAC is 32 zero bytes. The body is
// MACed byte for byte as written, so there is no canonical form to get
// wrong: any change to a line, a removed line or two swapped lines break
// the chain from there on.
type Record struct {
	Seq uint64 `json:"seq"`
	Event
	// Torn is set on an OpRecovered record: the torn tail it acknowledges.
	Torn *Torn `json:"torn,omitempty"`
}

// Torn names a segment that ends in an incomplete line (a write cut by a
// crash) and how long that tail is.
type Torn struct {
	Segment int   `json:"segment"`
	Offset  int64 `json:"offset"`
	Bytes   int   `json:"bytes"`
}

const (
	macDomain = "kmip-adapter/audit/v1"
	macSize   = sha256.Size
	// macField is what sits between the body and the MAC's hex digits.
	macField = `,"mac":"`
	// macTail is the length of `,"mac":"` + 64 hex digits + `"}`.
	macTail = len(macField) + 2*macSize + 2
)

// KeySize is the length of a chain key.
const KeySize = 32

// chain computes record MACs under one key.
type chain struct {
	h hash.Hash
	// sum holds the MAC encode made last (the next record's prev).
	sum [macSize]byte
}

// macPrefix is what every MAC input begins with.
var macPrefix = []byte(macDomain + "\x00")

func newChain(key []byte) (*chain, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("audit: chain key is %d bytes, want %d", len(key), KeySize)
	}
	return &chain{h: hmac.New(sha256.New, key)}, nil
}

// mac returns the MAC of body after prev.
func (c *chain) mac(prev, body []byte) []byte {
	return append([]byte(nil), c.sumOf(prev, body)...)
}

// sumOf returns the MAC of body after prev in c.sum, which the next call
// overwrites (after reading prev, so prev may be c.sum itself).
func (c *chain) sumOf(prev, body []byte) []byte {
	c.h.Reset()
	c.h.Write(macPrefix)
	c.h.Write(prev)
	c.h.Write(body)
	return c.h.Sum(c.sum[:0])
}

// encode appends r's line (with its newline) to dst and returns it and
// r's MAC, which stays valid until the next encode (it may be passed back
// as that call's prev).
func (c *chain) encode(dst []byte, prev []byte, r *Record) ([]byte, []byte, error) {
	start := len(dst)
	dst, err := appendRecord(dst, r)
	if err != nil {
		return dst[:start], nil, fmt.Errorf("audit: encode record %d: %w", r.Seq, err)
	}
	mac := c.sumOf(prev, dst[start:])
	dst = dst[:len(dst)-1] // the body's closing brace: the MAC goes before it
	dst = append(dst, macField...)
	dst = hex.AppendEncode(dst, mac)
	dst = append(dst, '"', '}', '\n')
	return dst, mac, nil
}

// errLine is a line that is not a record at all.
var errLine = errors.New("not an audit record")

// splitLine separates a line (without its newline) into the body that
// was MACed and the MAC it carries.
func splitLine(line []byte) (body, mac []byte, err error) {
	if len(line) < macTail+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, nil, errLine
	}
	cut := len(line) - macTail
	if !bytes.Equal(line[cut:cut+len(macField)], []byte(macField)) {
		return nil, nil, errLine
	}
	mac = make([]byte, macSize)
	if _, err := hex.Decode(mac, line[cut+len(macField):len(line)-2]); err != nil {
		return nil, nil, errLine
	}
	body = make([]byte, 0, cut+1)
	body = append(append(body, line[:cut]...), '}')
	return body, mac, nil
}

// parseLine reads a line (without its newline) as a record, without
// checking its MAC.
func parseLine(line []byte) (Record, []byte, []byte, error) {
	body, mac, err := splitLine(line)
	if err != nil {
		return Record{}, nil, nil, err
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, nil, nil, fmt.Errorf("%w: %v", errLine, err)
	}
	return r, body, mac, nil
}
