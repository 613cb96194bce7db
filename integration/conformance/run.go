package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// Session is one connection to the server under test: it sends a
// request message and returns the response message, both TTLV.
type Session interface {
	RoundTrip(request []byte) (response []byte, err error)
	Close() error
}

// Options configure a run.
type Options struct {
	// Connect opens a fresh connection; each file gets its own.
	Connect func() (Session, error)
	// Now is the clock for $NOW (time.Now when nil).
	Now func() time.Time
	// Logf, when set, receives one line per file as it finishes.
	Logf func(format string, args ...any)
	// Trace, when set, receives each request sent, the response expected
	// and the response received (nil when none), for the files it
	// returns true for in Traced.
	Trace  func(file string, step int, request, want, got *Node)
	Traced func(file string) bool
	// KeepGoing replays a file to its end after a difference, to list
	// the later ones too (Result.Later); the first still fails the file.
	KeepGoing bool
}

// Result is the outcome of one file.
type Result struct {
	File File
	// Run is false for the files the server does not claim: they are
	// listed, not replayed.
	Run    bool
	Passed bool
	// Step is the exchange (0-based) that failed, of Steps; Operations
	// names its operations.
	Step, Steps int
	Operations  string
	// Err is the first difference (a *Difference) or what stopped the
	// replay (connection, placeholder, parse error).
	Err error
	// Later lists the differences after the first, with KeepGoing.
	Later []string
	// Erratum says how the file was corrected before the replay (see
	// errata), empty when it was not.
	Erratum string
	Elapsed time.Duration
}

// String is the line that reports the result.
func (r Result) String() string {
	switch {
	case !r.Run:
		return fmt.Sprintf("%-24s not claimed", r.File.Name)
	case r.Passed && r.Erratum != "":
		return fmt.Sprintf("%-24s PASS (%d requests, %s) with a corrected vector: %s", r.File.Name, r.Steps, r.Elapsed.Round(time.Millisecond), r.Erratum)
	case r.Passed:
		return fmt.Sprintf("%-24s PASS (%d requests, %s)", r.File.Name, r.Steps, r.Elapsed.Round(time.Millisecond))
	}
	line := fmt.Sprintf("%-24s FAIL request %d/%d (%s): %v", r.File.Name, r.Step+1, r.Steps, r.Operations, r.Err)
	for _, l := range r.Later {
		line += "\n" + strings.Repeat(" ", 25) + "then " + l
	}
	return line
}

// Run replays the claimed files against the server, each on a fresh
// connection, dependent files in order with shared bindings; after each
// group it destroys what the group left on the server. Files the server
// does not claim are listed as such.
func Run(files []File, opts Options) *Report {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	start := time.Now()
	report := &Report{}
	var claimed []File
	for _, f := range files {
		if f.Claimed() {
			claimed = append(claimed, f)
			continue
		}
		report.Results = append(report.Results, Result{File: f})
	}
	for _, group := range groups(claimed) {
		b := NewBindings()
		for _, f := range group {
			b.NextFile()
			r := runFile(f, b, opts)
			if opts.Logf != nil {
				opts.Logf("%s", r)
			}
			report.Results = append(report.Results, r)
		}
		cleanup(group[0].Version, b, opts)
	}
	slices.SortStableFunc(report.Results, func(a, b Result) int { return compareFiles(a.File, b.File) })
	report.Elapsed = time.Since(start)
	return report
}

// runFile replays one file: each request with its placeholders filled,
// each response compared with the expected one, up to the first
// difference (to the end with KeepGoing).
func runFile(f File, b *Bindings, opts Options) (r Result) {
	r = Result{File: f, Run: true}
	start := time.Now()
	defer func() { r.Elapsed = time.Since(start) }()
	v, err := ReadVector(f.Path)
	if err != nil {
		r.Err = err
		return r
	}
	r.Steps = len(v.Exchanges)
	if e, ok := errata[f.Name]; ok {
		if r.Erratum, err = applyErratum(v, e); err != nil {
			r.Err = err
			return r
		}
	}
	sess, err := opts.Connect()
	if err != nil {
		r.Err = fmt.Errorf("connect: %w", err)
		return r
	}
	defer sess.Close()
	traced := opts.Trace != nil && opts.Traced != nil && opts.Traced(f.Name)
	// fail records a difference or error at step i; it reports whether
	// the replay goes on.
	fail := func(i int, err error) bool {
		if r.Err == nil {
			r.Err, r.Step, r.Operations = err, i, operations(v.Exchanges[i].Request)
		} else {
			r.Later = append(r.Later, fmt.Sprintf("request %d/%d (%s): %v", i+1, r.Steps, operations(v.Exchanges[i].Request), err))
		}
		return opts.KeepGoing
	}
	for i, ex := range v.Exchanges {
		now := opts.Now()
		req, err := b.Fill(ex.Request, now)
		if err != nil {
			// What follows would fail the same way.
			fail(i, err)
			return r
		}
		data, err := Encode(req)
		if err != nil {
			if fail(i, err) {
				continue
			}
			return r
		}
		out, err := sess.RoundTrip(data)
		var got *Node
		if err == nil {
			got, err = Decode(out)
		}
		if traced {
			opts.Trace(f.Name, i, req, ex.Response, got)
		}
		if err != nil {
			// The connection is of no more use.
			fail(i, fmt.Errorf("response: %w", err))
			return r
		}
		b.learn(got)
		b.learnKeys(req, got)
		c := Comparer{Bindings: b, Now: now, Recorded: v.Recorded, Request: req}
		if d := c.Message(ex.Response, got); d != nil && !fail(i, d) {
			return r
		}
	}
	r.Passed = r.Err == nil
	return r
}

// operations names the operations of a request: "Create, Get".
func operations(req *Node) string {
	var names []string
	for _, item := range req.ChildrenOf(kmip14.TagBatchItem) {
		if op := item.Child(kmip14.TagOperation); op != nil {
			names = append(names, show(op))
		}
	}
	return strings.Join(names, ", ")
}

// cleanup destroys the objects a group of files returned, revoking them
// first when they are active, so that no later file finds them (a Locate
// of another version must not see them). Failures are ignored: most
// objects are destroyed by the files themselves.
func cleanup(v Version, b *Bindings, opts Options) {
	ids := b.Identifiers()
	if len(ids) == 0 {
		return
	}
	sess, err := opts.Connect()
	if err != nil {
		return
	}
	defer sess.Close()
	for _, id := range ids {
		if destroy(sess, v, id) == nil {
			continue
		}
		revoke := leaf(kmip14.TagRevocationReason, ttlv.TypeStructure, nil)
		revoke.Children = []*Node{leaf(kmip14.TagRevocationReasonCode, ttlv.TypeEnumeration, uint32(kmip14.RevocationReasonCodeCessationOfOperation))}
		if send(sess, v, kmip14.OperationRevoke, leaf(kmip14.TagUniqueIdentifier, ttlv.TypeTextString, id), revoke) == nil {
			_ = destroy(sess, v, id)
		}
	}
}

func destroy(sess Session, v Version, id string) error {
	return send(sess, v, kmip14.OperationDestroy, leaf(kmip14.TagUniqueIdentifier, ttlv.TypeTextString, id))
}

// send sends a request of one batch item and returns an error unless it
// succeeded.
func send(sess Session, v Version, op kmip14.Operation, payload ...*Node) error {
	msg := Request(v, op, payload...)
	data, err := Encode(msg)
	if err != nil {
		return err
	}
	out, err := sess.RoundTrip(data)
	if err != nil {
		return err
	}
	resp, err := Decode(out)
	if err != nil {
		return err
	}
	status := resp.Child(kmip14.TagBatchItem).Child(kmip14.TagResultStatus)
	if status == nil || status.Value != uint32(kmip14.ResultStatusSuccess) {
		return errors.New("operation failed")
	}
	return nil
}

// Request builds a request message of version v with one batch item.
func Request(v Version, op kmip14.Operation, payload ...*Node) *Node {
	pv := leaf(kmip14.TagProtocolVersion, ttlv.TypeStructure, nil)
	pv.Children = []*Node{
		leaf(kmip14.TagProtocolVersionMajor, ttlv.TypeInteger, int32(v.Major)), //nolint:gosec // small
		leaf(kmip14.TagProtocolVersionMinor, ttlv.TypeInteger, int32(v.Minor)), //nolint:gosec // small
	}
	header := leaf(kmip14.TagRequestHeader, ttlv.TypeStructure, nil)
	header.Children = []*Node{pv, leaf(kmip14.TagBatchCount, ttlv.TypeInteger, int32(1))}
	p := leaf(kmip14.TagRequestPayload, ttlv.TypeStructure, nil)
	p.Children = payload
	item := leaf(kmip14.TagBatchItem, ttlv.TypeStructure, nil)
	item.Children = []*Node{leaf(kmip14.TagOperation, ttlv.TypeEnumeration, uint32(op)), p}
	msg := leaf(kmip14.TagRequestMessage, ttlv.TypeStructure, nil)
	msg.Children = []*Node{header, item}
	return msg
}

func leaf(tag ttlv.Tag, tp ttlv.Type, v any) *Node {
	return &Node{Tag: tag, Type: tp, Value: v}
}
