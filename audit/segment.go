package audit

import (
	"bufio"
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

// readLines calls fn with each complete line of the file (without its
// newline), numbered from 1, and returns the torn tail: the bytes after
// the last newline (nil when the file ends with one, as it should).
func readLines(path string, fn func(lineNo int, line []byte) error) (tail *Torn, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				return &Torn{Offset: off, Bytes: len(line)}, nil
			}
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", path, err)
		}
		off += int64(len(line))
		if err := fn(lineNo, line[:len(line)-1]); err != nil {
			return nil, err
		}
	}
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
