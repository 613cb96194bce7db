package audit

import (
	"fmt"
	"os"
	"time"
)

// Preallocation. An fdatasync after an append must also commit the
// file's new size (and, for new blocks, their allocation) to the file
// system's journal; after an overwrite of blocks that are already
// allocated and written it flushes the data alone, at about half the
// cost (measured on ext4: docs/operations.md). The sink therefore keeps
// zeros, really written and made durable, ahead of its records: the
// active file is its records, then unused space (zeros) up to its size,
// and records are written over the zeros. The space is added a chunk at
// a time (Options.Preallocate) by a goroutine of its own, off the
// request path, once less than half a chunk is left.
//
// fallocate alone is not enough: it leaves unwritten extents, whose
// conversion on the first write costs a journal commit too. The chunk is
// fallocated (so that a full disk says so at once, and the extent is in
// one piece) and then written with zeros and fsynced.
//
// With the file's size no longer marking the end of the log, readers
// find the end where the written lines end (readLines): at the first
// line holding a NUL byte, which a record never holds.

// DefaultPreallocate is the chunk of space allocated ahead of the
// records when Options.Preallocate is 0.
const DefaultPreallocate = 8 << 20

const (
	// firstPiece is what a new segment gets at once when it is begun
	// (rotation), so that the records after the rotation do not wait for
	// a whole chunk: the rest follows in the background.
	firstPiece = 256 << 10
	// growRetry is how long after a failed allocation (a full disk) the
	// next is tried; meanwhile records are appended (and may fail).
	growRetry = time.Second
	pageSize  = 4096
)

// growth is a chunk being allocated: [from, to) of the active file.
type growth struct {
	from, to int64
	done     chan struct{}
	err      error // set before done closes
}

// chunk is the preallocation chunk, 0 when the sink does not
// preallocate.
func (s *Sink) chunk() int64 {
	if s.opts.NoSync || s.opts.Preallocate < 0 {
		return 0 // without fsync there is no journal commit to save
	}
	if s.opts.Preallocate == 0 {
		return DefaultPreallocate
	}
	return roundUp(s.opts.Preallocate, pageSize)
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// preallocate starts allocating the next chunk of the active file when
// less than half a chunk of unused space is left and no chunk is under
// way. The writer goroutine calls it; the chunk is allocated by another.
func (s *Sink) preallocate() {
	chunk := s.chunk()
	if chunk == 0 || s.broken != nil {
		return
	}
	s.collectGrowth(false)
	if s.grow != nil || s.alloc-s.size >= chunk/2 {
		return
	}
	if s.growFailed && time.Since(s.growFailedAt) < growRetry {
		return
	}
	s.startGrowth(s.alloc + chunk)
}

// startGrowth allocates the active file up to to (at most the segment's
// size limit) in the background.
func (s *Sink) startGrowth(to int64) {
	if limit := s.opts.MaxSegmentSize; limit > 0 {
		to = min(to, roundUp(limit, pageSize))
	}
	if to <= s.alloc {
		return // the segment is as large as it gets; the rotation is near
	}
	g := &growth{from: s.alloc, to: to, done: make(chan struct{})}
	s.grow = g
	path := s.opts.Path
	go func() {
		defer close(g.done)
		g.err = allocate(path, g.from, g.to)
	}()
}

// collectGrowth takes the result of the chunk under way, if it is done
// (or, with wait, once it is). Until then the writer writes only below
// its start: nothing else may extend the file while zeros are written
// past its end.
func (s *Sink) collectGrowth(wait bool) {
	g := s.grow
	if g == nil {
		return
	}
	if wait {
		<-g.done
	} else {
		select {
		case <-g.done:
		default:
			return
		}
	}
	s.grow = nil
	if g.err != nil {
		if !s.growFailed && s.opts.OnPreallocError != nil {
			s.opts.OnPreallocError(g.err)
		}
		s.growFailed, s.growFailedAt = true, time.Now()
		return
	}
	s.growFailed = false
	s.alloc = max(s.alloc, g.to)
}

// allocate makes [from, to) of the file at path allocated, written with
// zeros and durable. It opens the file anew so that an error reported by
// its fsync is not one the writer's own fdatasync then misses (the
// kernel reports a writeback error once per open file). On failure it
// cuts the file back to from.
func allocate(path string, from, to int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("audit: preallocate %s: %w", path, err)
	}
	defer f.Close()
	fail := func(err error) error {
		_ = f.Truncate(from)
		return fmt.Errorf("audit: preallocate %d bytes of %s: %w", to-from, path, err)
	}
	if err := fallocate(f, from, to-from); err != nil {
		return fail(err)
	}
	zeros := make([]byte, min(1<<20, to-from))
	for off := from; off < to; {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), to-off)], off)
		if err != nil {
			return fail(err)
		}
		off += int64(n)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	return nil
}

// unwrite takes back a failed write of n bytes at off: the part over
// unused space is zeroed again, the part that extended the file is cut
// off, so that the chain stays valid and the next write goes there.
func (s *Sink) unwrite(off int64, n int) error {
	end := off + int64(n)
	if end > s.alloc {
		if err := s.f.Truncate(s.alloc); err != nil {
			return err
		}
		end = s.alloc
	}
	if end > off {
		if _, err := s.f.WriteAt(make([]byte, end-off), off); err != nil {
			return err
		}
	}
	return nil
}
