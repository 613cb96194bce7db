package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A log is a chain of segment files: the closed segments PATH.000001,
// PATH.000002, ... in order, then the active file PATH that the server
// appends to. Rotation renames PATH to the next number and begins a new
// PATH; the chain runs on across files, so removing or reordering whole
// segments breaks it just as removing a line does.
type segment struct {
	Num    int // the active file's is one more than the last closed one's
	Path   string
	Active bool
}

// segmentName is the file name of closed segment num of the log at path.
func segmentName(path string, num int) string { return fmt.Sprintf("%s.%06d", path, num) }

// segments lists the log's files in chain order.
func segments(path string) ([]segment, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", dir, err)
	}
	var out []segment
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || len(suffix) < 6 || strings.Trim(suffix, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.Atoi(suffix)
		if err != nil || n < 1 {
			continue
		}
		out = append(out, segment{Num: n, Path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Num < out[j].Num })
	if _, err := os.Stat(path); err == nil {
		next := 1
		if len(out) > 0 {
			next = out[len(out)-1].Num + 1
		}
		out = append(out, segment{Num: next, Path: path, Active: true})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return out, nil
}

// segEnd is where a segment's records end and what follows them.
type segEnd struct {
	lines int   // whole lines read (numbered from 1)
	end   int64 // the offset after them: where the next record goes
	// tail is what follows end that is not unused space: nil when only
	// zeros (preallocated space, never written) or nothing follow.
	tail *Torn
	// toEOF is the length from end to the end of the file: what the
	// sink before preallocation counted as a torn tail's length.
	toEOF int64
}

// readLines calls fn with each whole line of the segment (without its
// newline), numbered from 1, until fn returns an error or the written
// lines end. They end at the end of the file, or at a line that is not
// whole: one that has no newline before the end of the file (a write cut
// by a crash, the old format's torn line) or that holds a NUL byte. A
// record never holds one (JSON escapes control characters), and a
// preallocated segment is zeros where nothing was written yet, so a NUL
// is unused space, or the hole of a write cut by a crash (the pages of
// one write reach the disk in any order). What follows the whole lines
// is the segment's tail: nothing if only zeros follow (the end of the
// records; the next record goes there), else the bytes up to the last
// one that is not zero.
func readLines(path string, fn func(lineNo int, line []byte) error) (segEnd, error) {
	f, err := os.Open(path)
	if err != nil {
		return segEnd{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var (
		se   segEnd
		long []byte // a line longer than the reader's buffer, so far
	)
	for {
		chunk, err := r.ReadSlice('\n')
		if bytes.IndexByte(chunk, 0) >= 0 {
			break // unused space, or a hole in a cut write
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(long) == 0 && len(chunk) == 0 {
				return se, nil // the file ends after a whole line
			}
			break // a line without its newline
		}
		if err != nil {
			return se, fmt.Errorf("audit: read %s: %w", path, err)
		}
		line := chunk
		if len(long) > 0 {
			line = append(long, chunk...)
			long = long[:0]
		}
		se.lines++
		if err := fn(se.lines, line[:len(line)-1]); err != nil {
			return se, err
		}
		se.end += int64(len(line))
	}
	last, size, err := lastNonZero(f, se.end)
	if err != nil {
		return se, fmt.Errorf("audit: read %s: %w", path, err)
	}
	se.toEOF = size - se.end
	if last > se.end {
		se.tail = &Torn{Offset: se.end, Bytes: int(last - se.end)}
	}
	return se, nil
}

// lastNonZero returns the offset after the last byte of f that is not
// zero (from, if every byte from there on is) and f's size.
func lastNonZero(f *os.File, from int64) (int64, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 256<<10)
	for end := st.Size(); end > from; {
		start := max(from, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != 0 {
				return start + int64(i) + 1, st.Size(), nil
			}
		}
		end = start
	}
	return from, st.Size(), nil
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
