// Package fuzzseed builds the seed corpora of the fuzz targets in kmip/...
// from the OASIS KMIP test vectors: every Request and Response Message of
// every vector file, encoded as TTLV, with placeholders replaced by fixed
// values of their type. It is imported by tests only.
//
// The vectors are in ../shared/kmip-vectors from the repository root, or
// in the folder KMIP_VECTORS names (absolute, or relative to the root).
// When they are missing the targets still run on their hand-made seeds and
// on testdata/fuzz; with KMIP_INTEGRATION_REQUIRED=1 (CI) a missing folder
// fails the test instead.
package fuzzseed

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/integration/conformance"
)

const (
	vectorsEnv     = "KMIP_VECTORS"
	defaultVectors = "../shared/kmip-vectors"
	requiredEnv    = "KMIP_INTEGRATION_REQUIRED"
)

// Corpus is what the vectors give the fuzz targets.
type Corpus struct {
	// Requests are the Request Messages, one per exchange.
	Requests [][]byte
	// Responses are the Response Messages the vectors expect.
	Responses [][]byte
	// Batches are one request per vector file holding the batch items of
	// all its requests, with every Unique Identifier that was a placeholder
	// left out (so that the item works on the batch's ID Placeholder) and
	// Batch Error Continuation Option Continue: one message that creates
	// objects and works on them, for the executor.
	Batches [][]byte
	// Payloads are the Request Payloads of every batch item, each with the
	// operation it was sent with.
	Payloads []Payload
	// Attributes are the attribute items found in requests: 1.x Attribute
	// structures, 2.x attributes inside Attributes, and Attribute Values.
	Attributes [][]byte
	// Files is how many vector files were read; Unreadable how many the
	// conformance reader could not parse.
	Files, Unreadable int
}

// Payload is one Request Payload of a vector.
type Payload struct {
	Operation uint32
	Major     int32
	Minor     int32
	TTLV      []byte
}

var load = sync.OnceValues(func() (*Corpus, error) {
	dir, err := dir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	files, err := conformance.Discover(dir)
	if err != nil {
		return nil, err
	}
	c := &Corpus{}
	for _, f := range files {
		v, err := conformance.ReadVector(f.Path)
		if err != nil {
			// A few files use what the reader does not know (PKCS#11
			// function names of the PKCS11 profile): not seeds then.
			c.Unreadable++
			continue
		}
		c.Files++
		c.add(v)
	}
	c.Requests, c.Responses, c.Attributes = unique(c.Requests), unique(c.Responses), unique(c.Attributes)
	seen := map[string]bool{}
	payloads := c.Payloads[:0]
	for _, p := range c.Payloads {
		if !seen[string(p.TTLV)] {
			seen[string(p.TTLV)] = true
			payloads = append(payloads, p)
		}
	}
	c.Payloads = payloads
	return c, nil
})

// Load returns the corpus, read once per process. A missing vectors folder
// gives an empty corpus (logged), or fails tb when KMIP_INTEGRATION_REQUIRED
// is 1.
func Load(tb testing.TB) *Corpus {
	tb.Helper()
	c, err := load()
	if err != nil {
		if os.Getenv(requiredEnv) == "1" {
			tb.Fatalf("OASIS vectors for the seed corpus: %v (%s=1)", err, requiredEnv)
		}
		tb.Logf("OASIS vectors for the seed corpus: %v: fuzzing from the hand-made seeds only (set %s)", err, vectorsEnv)
		return &Corpus{}
	}
	return c
}

// unique drops repeated seeds, keeping the first of each.
func unique(seeds [][]byte) [][]byte {
	seen := map[string]bool{}
	out := seeds[:0]
	for _, s := range seeds {
		if !seen[string(s)] {
			seen[string(s)] = true
			out = append(out, s)
		}
	}
	return out
}

// dir finds the vectors folder from the module root.
func dir() (string, error) {
	d := os.Getenv(vectorsEnv)
	if d == "" {
		d = defaultVectors
	}
	if filepath.IsAbs(d) {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for root := wd; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return filepath.Join(root, d), nil
		}
		if filepath.Dir(root) == root {
			return "", errors.New("module root (go.mod) not found above " + wd)
		}
	}
}

// fuzzSample is how many seeds of a kind Pick keeps when fuzzing
// (KMIP_FUZZ_SAMPLE overrides it; make fuzz-short sets a small one): the
// fuzzer runs every seed before it mutates anything, and the vectors'
// thousands of near-identical messages would use up a short run. Plain
// `go test` runs them all.
const fuzzSample = 50

func sampleSize() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("KMIP_FUZZ_SAMPLE"), &n); err == nil && n > 0 {
		return n
	}
	return fuzzSample
}

// Fuzzing reports whether this test binary runs with -test.fuzz (the
// fuzzing engine), rather than running the seeds as plain tests.
func Fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// Pick returns seeds, or evenly spread fuzzSample of them when fuzzing.
func Pick[T any](seeds []T) []T {
	if !Fuzzing() {
		return seeds
	}
	return Sample(seeds, sampleSize())
}

// PickAtMost is Pick, keeping at most n seeds when not fuzzing either:
// for targets whose every seed is costly.
func PickAtMost[T any](seeds []T, n int) []T {
	if Fuzzing() {
		n = min(n, sampleSize())
	}
	return Sample(seeds, n)
}

// Sample returns at most n of seeds, evenly spread.
func Sample[T any](seeds []T, n int) []T {
	if len(seeds) <= n {
		return seeds
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, seeds[i*len(seeds)/n])
	}
	return out
}

// seedTime stands for $NOW and its offsets: a fixed time, so that a seed
// is the same bytes in every run.
var seedTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// fill replaces the placeholders of n (a copy) by fixed values of their
// type. It reports the nodes that held a Unique Identifier placeholder.
func fill(n *conformance.Node) (*conformance.Node, map[*conformance.Node]bool) {
	out := n.Clone()
	uids := map[*conformance.Node]bool{}
	out.Walk(func(c *conformance.Node) {
		if c.Placeholder == "" {
			return
		}
		if c.Tag == kmip14.TagUniqueIdentifier {
			uids[c] = true
		}
		switch c.Type {
		case ttlv.TypeInteger:
			c.Value = int32(1)
		case ttlv.TypeLongInteger:
			c.Value = int64(1)
		case ttlv.TypeEnumeration:
			c.Value = uint32(1)
		case ttlv.TypeBoolean:
			c.Value = false
		case ttlv.TypeTextString:
			c.Value = "seed-" + c.Placeholder
		case ttlv.TypeByteString, ttlv.TypeBigInteger:
			c.Value = bytes.Repeat([]byte{0x5a}, 16)
		case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
			c.Value = seedTime
		case ttlv.TypeInterval:
			c.Value = time.Hour
		}
		c.Placeholder = ""
	})
	return out, uids
}

func (c *Corpus) add(v *conformance.Vector) {
	var merged *conformance.Node
	for _, ex := range v.Exchanges {
		req, uids := fill(ex.Request)
		if b, err := conformance.Encode(req); err == nil {
			c.Requests = append(c.Requests, b)
		}
		resp, _ := fill(ex.Response)
		if b, err := conformance.Encode(resp); err == nil {
			c.Responses = append(c.Responses, b)
		}
		req.Walk(func(n *conformance.Node) {
			switch n.Tag {
			case kmip14.TagAttribute, kmip14.TagAttributeValue:
				if b, err := conformance.Encode(n); err == nil {
					c.Attributes = append(c.Attributes, b)
				}
			case kmip20.TagAttributes:
				for _, a := range n.Children {
					if b, err := conformance.Encode(a); err == nil {
						c.Attributes = append(c.Attributes, b)
					}
				}
			}
		})
		for _, item := range req.ChildrenOf(kmip14.TagBatchItem) {
			op, _ := valueOf(item.Child(kmip14.TagOperation)).(uint32)
			if p := item.Child(kmip14.TagRequestPayload); p != nil {
				if b, err := conformance.Encode(p); err == nil {
					c.Payloads = append(c.Payloads, Payload{Operation: op, Major: int32(v.Version.Major), Minor: int32(v.Version.Minor), TTLV: b})
				}
			}
		}
		merged = merge(merged, req, uids)
	}
	if merged != nil {
		if b, err := conformance.Encode(merged); err == nil {
			c.Batches = append(c.Batches, b)
		}
	}
}

func valueOf(n *conformance.Node) any {
	if n == nil {
		return nil
	}
	return n.Value
}

// merge appends the batch items of req, without the Unique Identifiers
// that were placeholders, to the merged request (started from req).
func merge(merged, req *conformance.Node, uids map[*conformance.Node]bool) *conformance.Node {
	var items []*conformance.Node
	for _, item := range req.ChildrenOf(kmip14.TagBatchItem) {
		if p := item.Child(kmip14.TagRequestPayload); p != nil {
			kept := p.Children[:0:0]
			for _, c := range p.Children {
				if !uids[c] {
					kept = append(kept, c)
				}
			}
			p.Children = kept
		}
		items = append(items, item)
	}
	if merged == nil {
		merged = &conformance.Node{Tag: req.Tag, Type: req.Type}
		if h := req.Child(kmip14.TagRequestHeader); h != nil {
			hdr := &conformance.Node{Tag: h.Tag, Type: h.Type}
			for _, c := range h.Children {
				switch c.Tag {
				case kmip14.TagBatchCount, kmip14.TagBatchErrorContinuationOption:
				default:
					hdr.Children = append(hdr.Children, c)
				}
			}
			hdr.Children = append(hdr.Children,
				&conformance.Node{Tag: kmip14.TagBatchErrorContinuationOption, Type: ttlv.TypeEnumeration, Value: uint32(1)},
				&conformance.Node{Tag: kmip14.TagBatchCount, Type: ttlv.TypeInteger, Value: int32(0)})
			merged.Children = append(merged.Children, hdr)
		}
	}
	merged.Children = append(merged.Children, items...)
	if h := merged.Child(kmip14.TagRequestHeader); h != nil {
		h.Child(kmip14.TagBatchCount).Value = int32(len(merged.ChildrenOf(kmip14.TagBatchItem)))
	}
	return merged
}
