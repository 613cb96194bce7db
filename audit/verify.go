package audit

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Problem is the first place where a log stops being a valid chain.
type Problem struct {
	File string
	Line int    // counted from 1 in File
	Seq  uint64 // the record's sequence number, when it could be read
	// Reason says what is wrong, in words an operator can act on.
	Reason string
}

func (p *Problem) Error() string {
	if p.Seq != 0 {
		return fmt.Sprintf("%s line %d (record %d): %s", p.File, p.Line, p.Seq, p.Reason)
	}
	return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Reason)
}

// Report is what a walk over a log found.
type Report struct {
	Segments int    // files read
	Records  uint64 // records checked and found good
	LastSeq  uint64 // the last good record
	// LastMAC is the last good record's MAC in hex: the head of the
	// chain. Kept elsewhere, it lets a later verification show that no
	// record after it was cut off the end.
	LastMAC string
	// Problem is the first break, or nil when the whole log is good.
	Problem *Problem
}

// Head is a point of the chain noted earlier: a record's sequence number
// and MAC (hex), as Report.LastSeq and Report.LastMAC give them.
type Head struct {
	Seq uint64
	MAC string
}

// walker follows the chain record by record.
type walker struct {
	head  *Head  // a record the log must still hold, with this MAC
	chain *chain // nil: read only, MACs are not checked (audit show)
	prev  []byte // the previous record's MAC
	next  uint64 // the sequence number the next record must carry
	torn  *Torn  // a torn tail the next record must acknowledge
	// tornToEOF is the torn tail's length to the end of its file, which
	// an acknowledgement written before preallocation gives as Bytes
	// (the same but for trailing zeros).
	tornToEOF int
	records   uint64
}

// acknowledges reports whether ack (an OpRecovered record's Torn) names
// the torn tail w waits for.
func (w *walker) acknowledges(ack *Torn) bool {
	t := w.torn
	return ack != nil && ack.Segment == t.Segment && ack.Offset == t.Offset && (ack.Bytes == t.Bytes || ack.Bytes == w.tornToEOF)
}

// expectTorn makes the next record acknowledge the tail of the segment
// that se describes.
func (w *walker) expectTorn(se segEnd) {
	w.torn, w.tornToEOF = se.tail, int(se.toEOF)
}

func newWalker(c *chain) *walker {
	return &walker{chain: c, prev: make([]byte, macSize), next: 1}
}

// step checks one line and moves the chain on; it returns the reason the
// line breaks the chain, or "".
func (w *walker) step(line []byte) (Record, string) {
	r, body, mac, err := parseLine(line)
	if err != nil {
		if errors.Is(err, errLine) {
			return r, "not an audit record (" + err.Error() + ")"
		}
		return r, err.Error()
	}
	switch {
	case r.Seq != w.next:
		return r, fmt.Sprintf("record %d where %d was expected: a record was removed, added or moved", r.Seq, w.next)
	case w.torn != nil && !w.acknowledges(r.Torn):
		return r, fmt.Sprintf("segment %d ends in a torn record of %d bytes that no %s record acknowledges", w.torn.Segment, w.torn.Bytes, OpRecovered)
	case w.torn == nil && r.Torn != nil:
		return r, fmt.Sprintf("acknowledges a torn record in segment %d that is not there", r.Torn.Segment)
	}
	if w.chain != nil && !hmac.Equal(mac, w.chain.mac(w.prev, body)) {
		return r, "MAC does not match: this record was changed, or the one before it is not its real predecessor"
	}
	if w.head != nil && r.Seq == w.head.Seq && hex.EncodeToString(mac) != w.head.MAC {
		return r, fmt.Sprintf("the noted head was record %d with MAC %s; this one has MAC %x: the log was rewritten from here", w.head.Seq, w.head.MAC, mac)
	}
	w.prev, w.next, w.torn = mac, r.Seq+1, nil
	w.records++
	return r, ""
}

// walkSegment runs w over one file, calling fn (when not nil) with each
// good record. It stops at the first whole line that breaks the chain
// (the Problem), or where the written lines end (readLines): the records
// end there, and the segment's tail (se.tail, with its Segment set) is
// returned, not judged: whether it is acceptable depends on what follows.
func (w *walker) walkSegment(seg segment, fn func(seg segment, line int, r Record) error) (*Problem, segEnd, error) {
	var problem *Problem
	se, err := readLines(seg.Path, func(n int, line []byte) error {
		r, why := w.step(line)
		if why != "" {
			problem = &Problem{File: seg.Path, Line: n, Seq: r.Seq, Reason: why}
			return errStop
		}
		if fn != nil {
			return fn(seg, n, r)
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return problem, se, nil
	}
	if err != nil {
		return nil, se, err
	}
	if se.tail != nil {
		se.tail.Segment = seg.Num
	}
	return nil, se, nil
}

var errStop = errors.New("stop")

// Verify walks every segment of the log at path and checks the chain with
// key. Report.Problem is the first break; the error is for a log that
// could not be read at all.
func Verify(path string, key []byte) (Report, error) {
	return VerifyHead(path, key, nil)
}

// VerifyHead is Verify that also checks that the log still holds head, a
// record noted at an earlier verification, with the same MAC: records cut
// off the end of the log leave no break in the chain, but they take the
// noted head with them.
func VerifyHead(path string, key []byte, head *Head) (Report, error) {
	c, err := newChain(key)
	if err != nil {
		return Report{}, err
	}
	w := newWalker(c)
	if head != nil {
		h := *head
		h.MAC = strings.ToLower(h.MAC)
		w.head = &h
	}
	rep, err := walk(path, w, nil)
	if err == nil && rep.Problem == nil && head != nil && rep.LastSeq < head.Seq {
		rep.Problem = &Problem{File: path, Line: tornLine(path), Reason: fmt.Sprintf(
			"the log ends at record %d, but record %d was noted as its head: records were cut off the end", rep.LastSeq, head.Seq)}
	}
	return rep, err
}

// Walk reads every record of the log at path in order without checking
// MACs (no key is needed), calling fn with each. It stops at the first
// line that is not a well-formed record in sequence, reported as in
// Verify.
func Walk(path string, fn func(file string, line int, r Record) error) (Report, error) {
	return walk(path, newWalker(nil), func(seg segment, line int, r Record) error { return fn(seg.Path, line, r) })
}

func walk(path string, w *walker, fn func(seg segment, line int, r Record) error) (Report, error) {
	segs, err := segments(path)
	if err != nil {
		return Report{}, err
	}
	if len(segs) == 0 {
		return Report{}, fmt.Errorf("audit: no log at %s", path)
	}
	rep := Report{Segments: len(segs)}
	var last segEnd // the previous segment's
	var lastSeg segment
	for _, seg := range segs {
		if last.tail != nil {
			w.expectTorn(last)
		}
		problem, se, err := w.walkSegment(seg, fn)
		if err != nil {
			return rep, err
		}
		rep.Problem = problem
		if problem != nil {
			break
		}
		// A torn tail the next segment never gets to acknowledge is
		// still pending when the walk ends.
		if w.torn != nil {
			rep.Problem = &Problem{File: lastSeg.Path, Line: last.lines + 1, Reason: fmt.Sprintf(
				"segment %d ends in a torn record of %d bytes that no %s record acknowledges", w.torn.Segment, w.torn.Bytes, OpRecovered)}
			break
		}
		last, lastSeg = se, seg
	}
	if rep.Problem == nil && last.tail != nil {
		rep.Problem = &Problem{File: lastSeg.Path, Line: last.lines + 1, Reason: fmt.Sprintf(
			"the last record is torn (%d bytes at offset %d after the last whole record, neither records nor unused space): "+
				"a write cut by a crash, or a damaged file; the server sets it aside when it next starts", last.tail.Bytes, last.tail.Offset)}
	}
	rep.Records, rep.LastSeq = w.records, w.next-1
	if w.records > 0 {
		rep.LastMAC = hex.EncodeToString(w.prev)
	}
	return rep, nil
}

// tornLine is the line number of a file's torn tail: one past its
// whole lines.
func tornLine(path string) int {
	se, _ := readLines(path, func(int, []byte) error { return nil })
	return se.lines + 1
}
