package conformance

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// Bindings is what a replay learned from the server: the value each
// placeholder stands for ($UNIQUE_IDENTIFIER_0 is the identifier the first
// Create returned), which objects hold material the server chose, and
// which identifiers the server returned at all. Files that depend on each
// other (TL-M-1, 2, 3) share one Bindings.
//
// Each file numbers its placeholders anew: SASED-M-3 calls
// $UNIQUE_IDENTIFIER_0 the object its own first Locate finds, which
// SASED-M-2 called $UNIQUE_IDENTIFIER_1. So a response binds a
// placeholder for its file even when an earlier file bound the same name;
// a request uses the binding of its file, or else the latest binding of
// an earlier file of the group.
type Bindings struct {
	values map[string]*Node
	// inherited are the bindings of the earlier files of the group.
	inherited map[string]*Node
	// random holds the identifiers of objects whose material the server
	// generated (Create, Create Key Pair, Re-key...): their Digest and
	// key material are wildcards.
	random map[string]bool
	// asymmetric holds the identifiers of the public and private keys
	// requests registered (crypto.go).
	asymmetric map[string]bool
	// seen holds every identifier a response returned, in order, for the
	// cleanup after the files.
	seen  []string
	known map[string]bool
	// sentTimes holds the Date-Time values that requests sent as written
	// in the vector (not $NOW): a response that holds one again echoes
	// the client and must match.
	sentTimes map[int64]bool
}

// NewBindings returns empty bindings.
func NewBindings() *Bindings {
	return &Bindings{
		values:    map[string]*Node{},
		inherited: map[string]*Node{},
		random:    map[string]bool{},
		known:     map[string]bool{},
		sentTimes: map[int64]bool{},
	}
}

// Value returns the node a placeholder (without its $) is bound to in
// the current file.
func (b *Bindings) Value(name string) (*Node, bool) {
	n, ok := b.values[name]
	return n, ok
}

// NextFile starts the next file of a group: what the files so far bound
// is still there for its requests, but its responses bind anew.
func (b *Bindings) NextFile() {
	for name, n := range b.values {
		b.inherited[name] = n
	}
	b.values = map[string]*Node{}
}

// Bind binds a placeholder to a node of a real response.
func (b *Bindings) Bind(name string, n *Node) { b.values[name] = n }

// Identifiers returns every identifier responses returned, first seen
// first.
func (b *Bindings) Identifiers() []string { return append([]string(nil), b.seen...) }

func (b *Bindings) sawIdentifier(id string) {
	if id != "" && !b.known[id] {
		b.known[id] = true
		b.seen = append(b.seen, id)
	}
}

// nowOffset reads a time placeholder: NOW, NOW-3600, NOW+3600 (seconds).
func nowOffset(name string) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(name, "NOW")
	if !ok {
		return 0, false
	}
	if rest == "" {
		return 0, true
	}
	if rest[0] != '-' && rest[0] != '+' {
		return 0, false
	}
	s, err := strconv.Atoi(rest)
	if err != nil {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// Fill returns a copy of a request with its placeholders replaced: $NOW
// and its offsets by now, the others by the values bound from earlier
// responses. Placeholders that nothing bound yet ($KEY_MATERIAL_0 of the
// cryptographic profiles) are an error.
func (b *Bindings) Fill(req *Node, now time.Time) (*Node, error) {
	out := req.Clone()
	var err error
	out.Walk(func(n *Node) {
		if err != nil {
			return
		}
		if n.Placeholder == "" {
			if t, ok := n.Value.(time.Time); ok {
				b.sentTimes[t.Unix()] = true
			}
			return
		}
		if d, ok := nowOffset(n.Placeholder); ok {
			if n.Type != ttlv.TypeDateTime && n.Type != ttlv.TypeDateTimeExtended {
				err = fmt.Errorf("line %d: $%s in a %s", n.Line, n.Placeholder, n.Type)
				return
			}
			n.Value = now.Add(d).UTC().Truncate(time.Second)
			n.Placeholder = ""
			return
		}
		v, ok := b.values[n.Placeholder]
		if !ok {
			v, ok = b.inherited[n.Placeholder]
		}
		if !ok {
			err = fmt.Errorf("line %d: placeholder $%s: no response gave it a value before (not supported)", n.Line, n.Placeholder)
			return
		}
		if v.Type != n.Type {
			err = fmt.Errorf("line %d: placeholder $%s is a %s here but the response gave a %s", n.Line, n.Placeholder, n.Type, v.Type)
			return
		}
		n.Value, n.Placeholder = v.Value, ""
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// generating are the operations whose new objects hold material the
// server chose.
var generating = map[uint32]bool{
	uint32(kmip14.OperationCreate):         true,
	uint32(kmip14.OperationCreateKeyPair):  true,
	uint32(kmip14.OperationReKey):          true,
	uint32(kmip14.OperationReKeyKeyPair):   true,
	uint32(kmip14.OperationDeriveKey):      true,
	uint32(kmip14.OperationCreateSplitKey): true,
	uint32(kmip14.OperationJoinSplitKey):   true,
	uint32(kmip14.OperationCertify):        true,
	uint32(kmip14.OperationReCertify):      true,
}

// identifierTags are the tags whose values in a response payload name
// objects.
var identifierTags = map[ttlv.Tag]bool{
	kmip14.TagUniqueIdentifier:           true,
	kmip14.TagPrivateKeyUniqueIdentifier: true,
	kmip14.TagPublicKeyUniqueIdentifier:  true,
}

// learn records what a real response says about objects: the identifiers
// it returns, and which of them hold generated material.
func (b *Bindings) learn(resp *Node) {
	for _, item := range resp.ChildrenOf(kmip14.TagBatchItem) {
		op, _ := item.Child(kmip14.TagOperation).valueOrNil().(uint32)
		payload := item.Child(kmip14.TagResponsePayload)
		if payload == nil {
			continue
		}
		for _, c := range payload.Children {
			id, ok := c.Value.(string)
			if !ok || !identifierTags[c.Tag] {
				continue
			}
			b.sawIdentifier(id)
			if generating[op] {
				b.random[id] = true
			}
		}
	}
}

func (n *Node) valueOrNil() any {
	if n == nil {
		return nil
	}
	return n.Value
}

// sameValue reports whether two values of the same type are equal; Big
// Integers are compared as numbers, times to the second.
func sameValue(tp ttlv.Type, want, got any) bool {
	switch w := want.(type) {
	case []byte:
		g, ok := got.([]byte)
		if !ok {
			return false
		}
		if tp == ttlv.TypeBigInteger {
			return bytes.Equal(padBigInt(trimBigInt(w)), padBigInt(trimBigInt(g)))
		}
		return bytes.Equal(w, g)
	case time.Time:
		g, ok := got.(time.Time)
		if !ok {
			return false
		}
		if tp == ttlv.TypeDateTimeExtended {
			return w.UnixMicro() == g.UnixMicro()
		}
		return w.Unix() == g.Unix()
	default:
		return want == got
	}
}

// trimBigInt drops redundant sign bytes of a two's complement number.
func trimBigInt(b []byte) []byte {
	for len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xFF && b[1]&0x80 != 0)) {
		b = b[1:]
	}
	return b
}
