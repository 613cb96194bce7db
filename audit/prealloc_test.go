package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordsEnd is the offset where the records of the file at path end.
func recordsEnd(t *testing.T, path string) int64 {
	t.Helper()
	return int64(len(bytes.Join(readLogLines(t, path), nil)))
}

// nextLines returns n lines that continue the chain of the log at path
// under key: what the sink would write next.
func nextLines(t *testing.T, path string, key []byte, n int) [][]byte {
	t.Helper()
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	prev, err := hex.DecodeString(rep.LastMAC)
	require.NoError(t, err)
	c, err := newChain(key)
	require.NoError(t, err)
	var out [][]byte
	for i := 0; i < n; i++ {
		r := Record{Seq: rep.LastSeq + 1 + uint64(i), Event: event(100 + i)}
		line, mac, err := c.encode(nil, prev, &r)
		require.NoError(t, err)
		prev = append([]byte(nil), mac...)
		out = append(out, line)
	}
	return out
}

func writeAt(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(data, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestPreallocatedSegmentLayout(t *testing.T) {
	key := testKey(t)
	path := writeLog(t, key, 5) // records 1..7
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	end := recordsEnd(t, path)
	assert.Equal(t, int64(DefaultPreallocate), int64(len(raw)), "one chunk, allocated before the first record")
	assert.Equal(t, make([]byte, len(raw)-int(end)), raw[end:], "unused space after the records is zeros")

	// Restarts continue right after the last record, in the same file
	// and the same space.
	for round := 0; round < 3; round++ {
		s := openSink(t, path, key)
		require.NoError(t, s.Record(context.Background(), event(round)))
		assert.Zero(t, s.ExtendingWrites())
		require.NoError(t, s.Close())
	}
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, 1, rep.Segments)
	assert.Equal(t, uint64(7+3*3), rep.Records)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(DefaultPreallocate), st.Size())
	assert.Len(t, readLogLines(t, path), 16, "no gap, no set-aside between the runs")
}

// TestEndOfAPreallocatedLog writes what a crash (or an attacker) may
// leave after the last record of a preallocated segment and checks what
// verification reports and what the next start does.
func TestEndOfAPreallocatedLog(t *testing.T) {
	tests := []struct {
		name string
		// after returns what is written at the end of the records (of a
		// log of records 1..7), given the next three lines of its chain
		// and its own lines.
		after func(next, own [][]byte) []byte
		// torn: verify reports a torn end, and the start sets it aside
		// and acknowledges it; broken: a break in the chain, which the
		// start refuses to extend; else the log is whole with records.
		torn    bool
		broken  string
		records uint64
	}{
		{name: "only zeros: the end of the records", after: func(_, _ [][]byte) []byte { return nil }, records: 7},
		{name: "a record written whose fdatasync did not return: it is a record", after: func(next, _ [][]byte) []byte { return next[0] }, records: 8},
		{name: "the first bytes of a record, then zeros", after: func(next, _ [][]byte) []byte { return next[0][:40] }, torn: true},
		{name: "a hole inside a cut write, whole records of it after the hole", after: func(next, _ [][]byte) []byte {
			cut := bytes.Join(next, nil)
			copy(cut[10:30], make([]byte, 20))
			return cut
		}, torn: true},
		{name: "a hole where a record begins, whole records after it", after: func(next, _ [][]byte) []byte {
			cut := bytes.Join(next, nil)
			copy(cut[:len(next[0])+5], make([]byte, len(next[0])+5))
			return cut
		}, torn: true},
		{name: "the whole record lost, the next one written", after: func(next, _ [][]byte) []byte {
			return append(make([]byte, len(next[0])), next[1]...)
		}, torn: true},
		// The sink only ever writes over zeros, so a whole line right
		// after the last record that does not continue the chain was not
		// left by a crash.
		{name: "earlier records of the log repeated after the end", after: func(_, own [][]byte) []byte {
			return bytes.Join(own[2:4], nil)
		}, broken: "record 3 where 8 was expected"},
		{name: "a record after the end in sequence but not of this chain", after: func(next, _ [][]byte) []byte {
			return bytes.Replace(next[0], []byte(`"tenant":"acme"`), []byte(`"tenant":"acmf"`), 1)
		}, broken: "MAC does not match"},
		{name: "a line that is not a record after the end", after: func(_, _ [][]byte) []byte { return []byte("{}\n") }, broken: "not an audit record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := testKey(t)
			path := writeLog(t, key, 5) // records 1..7
			end := recordsEnd(t, path)
			added := tt.after(nextLines(t, path, key, 3), readLogLines(t, path))
			writeAt(t, path, end, added)

			rep, err := Verify(path, key)
			require.NoError(t, err)
			shown, err := Walk(path, func(string, int, Record) error { return nil })
			require.NoError(t, err)
			s, openErr := Open(Options{Path: path, Key: key})
			switch {
			case tt.broken != "":
				require.NotNil(t, rep.Problem)
				assert.Equal(t, 8, rep.Problem.Line)
				assert.Contains(t, rep.Problem.Reason, tt.broken)
				require.Error(t, openErr, "a break after the records must not be taken for their end")
				assert.Contains(t, openErr.Error(), "cannot be extended")
				return
			case tt.torn:
				require.NotNil(t, rep.Problem)
				assert.Equal(t, 8, rep.Problem.Line)
				assert.Contains(t, rep.Problem.Reason, "the last record is torn")
				assert.Equal(t, uint64(7), rep.Records)
				require.NotNil(t, shown.Problem, "show stops there too")
			default:
				require.Nil(t, rep.Problem)
				assert.Equal(t, tt.records, rep.Records)
				require.Nil(t, shown.Problem)
			}
			require.NoError(t, openErr)
			require.NoError(t, s.Record(context.Background(), event(50)))
			require.NoError(t, s.Close())

			rep, err = Verify(path, key)
			require.NoError(t, err)
			require.Nil(t, rep.Problem)
			var recs []Record
			_, err = Walk(path, func(_ string, _ int, r Record) error { recs = append(recs, r); return nil })
			require.NoError(t, err)
			for _, r := range recs[7:] {
				if r.Seq > tt.records {
					assert.NotEqual(t, "uid-0101", r.UniqueID, "a record after a hole never joins the chain")
				}
			}
			if !tt.torn {
				assert.Equal(t, 1, rep.Segments, "the next start writes right after the last record")
				assert.Equal(t, tt.records+3, rep.Records) // start, event, stop
				return
			}
			assert.Equal(t, 2, rep.Segments, "the torn segment is set aside")
			require.Equal(t, OpRecovered, recs[7].Operation)
			assert.Equal(t, &Torn{Segment: 1, Offset: end, Bytes: len(bytes.TrimRight(added, "\x00"))}, recs[7].Torn)
			kept, err := os.ReadFile(segmentName(path, 1))
			require.NoError(t, err)
			assert.Equal(t, end+int64(len(bytes.TrimRight(added, "\x00"))), int64(len(kept)), "only the zeros after the torn bytes are cut off")
			assert.Equal(t, added[:len(bytes.TrimRight(added, "\x00"))], kept[end:], "the torn bytes are kept as evidence")
		})
	}
}

func TestBreakInsideAPreallocatedSegment(t *testing.T) {
	key := testKey(t)
	path := writeLog(t, key, 5) // records 1..7, then zeros
	lines := readLogLines(t, path)
	off := int64(len(bytes.Join(lines[:3], nil)))
	writeAt(t, path, off, bytes.Replace(lines[3], []byte(`"result":"success"`), []byte(`"result":"failure"`), 1))
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.NotNil(t, rep.Problem)
	assert.Equal(t, 4, rep.Problem.Line)
	assert.Contains(t, rep.Problem.Reason, "MAC does not match")
	_, err = Open(Options{Path: path, Key: key})
	require.Error(t, err)
}

func TestPreallocationStaysAheadOfTheRecords(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	const chunk = 64 << 10
	s := openSink(t, path, key, func(o *Options) { o.Preallocate = chunk })
	const writers, each = 8, 150 // about 400 KiB: several chunks
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				assert.NoError(t, s.Record(context.Background(), event(i)))
			}
		}()
	}
	wg.Wait()
	extends, commits := s.ExtendingWrites(), s.Commits()
	require.NoError(t, s.Close())
	t.Logf("%d of %d writes extended the file", extends, commits)
	assert.Less(t, extends, commits/10, "the space is allocated ahead of need")
	st, err := os.Stat(path)
	require.NoError(t, err)
	end := recordsEnd(t, path)
	assert.Greater(t, end, int64(4*chunk))
	assert.Zero(t, st.Size()%chunk, "grown a chunk at a time")
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(writers*each+2), rep.Records)
}

func TestNoPreallocationAppends(t *testing.T) {
	for _, o := range []Options{{Preallocate: -1}, {NoSync: true}} {
		key := testKey(t)
		path := filepath.Join(t.TempDir(), "audit.log")
		s := openSink(t, path, key, func(opts *Options) { opts.Preallocate, opts.NoSync = o.Preallocate, o.NoSync })
		require.NoError(t, s.Record(context.Background(), event(1)))
		require.NoError(t, s.Close())
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, recordsEnd(t, path), st.Size(), "%+v: the file is its records", o)
	}
}

// TestFirstWriteTorn: the log's very first write was cut by a crash, so
// its first segment holds no whole record. The next start sets it aside;
// the starts after that continue the chain that begins in the second
// segment.
func TestFirstWriteTorn(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	torn := []byte(`{"seq":1,"time":"2026-11-30T12:00:00Z","sou`)
	require.NoError(t, os.WriteFile(path, append(torn, make([]byte, 8192)...), 0o600))
	for round := 0; round < 3; round++ {
		s := openSink(t, path, key)
		require.NoError(t, s.Record(context.Background(), event(round)))
		require.NoError(t, s.Close())
	}
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, 2, rep.Segments)
	assert.Equal(t, uint64(1+3*3), rep.Records) // recovered, then start, event, stop three times
	kept, err := os.ReadFile(segmentName(path, 1))
	require.NoError(t, err)
	assert.Equal(t, torn, kept)
	id, err := LogID(path)
	require.NoError(t, err)
	assert.Len(t, id, 2*logIDBytes)
}

// TestRotationCutsTheUnusedSpace: a closed segment is its records alone;
// the active one is preallocated again at once, and never past the
// segment size limit.
func TestRotationCutsTheUnusedSpace(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	const limit, chunk = 64 << 10, 16 << 10
	s := openSink(t, path, key, func(o *Options) { o.MaxSegmentSize, o.Preallocate = limit, chunk })
	for i := 0; i < 700; i++ {
		require.NoError(t, s.Record(context.Background(), event(i)))
	}
	extends, commits := s.ExtendingWrites(), s.Commits()
	require.NoError(t, s.Close())
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	require.GreaterOrEqual(t, rep.Segments, 3)
	t.Logf("%d segments, %d of %d writes extended the file", rep.Segments, extends, commits)
	assert.LessOrEqual(t, extends, uint64(2*rep.Segments), "at most the writes that cross a segment's limit, and a few while a chunk is under way")
	for n := 1; n < rep.Segments; n++ {
		st, err := os.Stat(segmentName(path, n))
		require.NoError(t, err)
		assert.Equal(t, recordsEnd(t, segmentName(path, n)), st.Size(), "segment %d holds its records only", n)
		assert.GreaterOrEqual(t, st.Size(), int64(limit))
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), recordsEnd(t, path), "the active segment has unused space")
	assert.LessOrEqual(t, st.Size(), int64(limit))
}
