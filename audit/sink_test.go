package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func openSink(t testing.TB, path string, key []byte, opts ...func(*Options)) *Sink {
	t.Helper()
	o := Options{Path: path, Key: key}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(o)
	require.NoError(t, err)
	return s
}

func event(i int) Event {
	return Event{
		Time: time.Date(2026, 11, 30, 12, 0, 0, i, time.UTC), Source: SourceKMIP, Tenant: "acme",
		Client: "array-1", Operation: "Get", UniqueID: fmt.Sprintf("uid-%04d", i), Result: "success",
	}
}

// writeLog makes a closed log of n events (plus the sink's start and stop
// records) and returns its path.
func writeLog(t *testing.T, key []byte, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	s := openSink(t, path, key)
	for i := 0; i < n; i++ {
		require.NoError(t, s.Record(context.Background(), event(i)))
	}
	require.NoError(t, s.Close())
	return path
}

func readLogLines(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return bytes.SplitAfter(raw, []byte("\n"))[:bytes.Count(raw, []byte("\n"))]
}

func writeLogLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, bytes.Join(lines, nil), 0o600))
}

func TestChainVerifies(t *testing.T) {
	key := testKey(t)
	path := writeLog(t, key, 10)
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(12), rep.Records) // start, 10 events, stop
	assert.Equal(t, uint64(12), rep.LastSeq)
	assert.Len(t, rep.LastMAC, 64)

	var ops []string
	_, err = Walk(path, func(_ string, _ int, r Record) error { ops = append(ops, r.Operation); return nil })
	require.NoError(t, err)
	assert.Equal(t, OpStart, ops[0])
	assert.Equal(t, "Get", ops[1])
	assert.Equal(t, OpStop, ops[11])
}

func TestVerifyWithAnotherKeyFails(t *testing.T) {
	path := writeLog(t, testKey(t), 3)
	rep, err := Verify(path, testKey(t))
	require.NoError(t, err)
	require.NotNil(t, rep.Problem)
	assert.Equal(t, 1, rep.Problem.Line)
	assert.Contains(t, rep.Problem.Reason, "MAC does not match")
	assert.Zero(t, rep.Records)
}

func TestTamperingIsDetected(t *testing.T) {
	otherKey := testKey(t)
	tests := []struct {
		name     string
		tamper   func(lines [][]byte) [][]byte
		wantLine int
		want     string
	}{
		{"record removed", func(l [][]byte) [][]byte { return append(l[:3:3], l[4:]...) }, 4, "record 5 where 4 was expected"},
		{"first record removed", func(l [][]byte) [][]byte { return l[1:] }, 1, "record 2 where 1 was expected"},
		{"two records swapped", func(l [][]byte) [][]byte { l[2], l[3] = l[3], l[2]; return l }, 3, "record 4 where 3 was expected"},
		{"record repeated", func(l [][]byte) [][]byte { return append(l[:3:3], append([][]byte{l[2]}, l[3:]...)...) }, 4, "record 3 where 4 was expected"},
		{"field edited", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`"tenant":"acme"`), []byte(`"tenant":"acmf"`), 1)
			return l
		}, 5, "MAC does not match"},
		{"result edited", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`"result":"success"`), []byte(`"result":"Item Not Found"`), 1)
			return l
		}, 5, "MAC does not match"},
		{"record removed and the rest renumbered", func(l [][]byte) [][]byte {
			out := append(l[:3:3], l[4:]...)
			for i := 3; i < len(out); i++ {
				out[i] = bytes.Replace(out[i], []byte(fmt.Sprintf(`{"seq":%d,`, i+2)), []byte(fmt.Sprintf(`{"seq":%d,`, i+1)), 1)
			}
			return out
		}, 4, "MAC does not match"},
		{"record forged with another key", func(l [][]byte) [][]byte {
			r, _, _, err := parseLine(bytes.TrimSuffix(l[4], []byte("\n")))
			if err != nil {
				panic(err)
			}
			r.Tenant = "forged"
			_, prev, _ := splitLine(bytes.TrimSuffix(l[3], []byte("\n")))
			c, _ := newChain(otherKey)
			line, _, _ := c.encode(nil, prev, &r)
			l[4] = line
			return l
		}, 5, "MAC does not match"},
		{"MAC cut off", func(l [][]byte) [][]byte {
			l[2] = append(l[2][:len(l[2])-macTail-1], []byte("}\n")...)
			return l
		}, 3, "not an audit record"},
		{"line added", func(l [][]byte) [][]byte { return append(l[:2:2], append([][]byte{[]byte("{}\n")}, l[2:]...)...) }, 3, "not an audit record"},
		{"last line cut short", func(l [][]byte) [][]byte {
			l[len(l)-1] = l[len(l)-1][:20]
			return l
		}, 7, "the last record is torn (20 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := testKey(t)
			path := writeLog(t, key, 5) // 7 lines
			writeLogLines(t, path, tt.tamper(readLogLines(t, path)))
			rep, err := Verify(path, key)
			require.NoError(t, err)
			require.NotNil(t, rep.Problem, "tampering not detected")
			assert.Equal(t, path, rep.Problem.File)
			assert.Equal(t, tt.wantLine, rep.Problem.Line)
			assert.Contains(t, rep.Problem.Reason, tt.want)
			assert.Contains(t, rep.Problem.Error(), fmt.Sprintf("line %d", tt.wantLine))

			s, err := Open(Options{Path: path, Key: key})
			if strings.Contains(tt.want, "torn") {
				require.NoError(t, err, "a torn last line is set aside (TestTornLastLineIsSetAsideAndAcknowledged)")
				require.NoError(t, s.Close())
				return
			}
			require.Error(t, err, "a broken log must not be extended")
		})
	}
}

func TestTextCannotForgeALine(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := openSink(t, path, key)
	e := event(1)
	e.Reason = "bad\n{\"seq\":99,\"mac\":\"00\"}\r\n\"},\"mac\":\"" + strings.Repeat("0", 64) + `"}`
	e.UniqueID = "\u2028x\x00y"
	require.NoError(t, s.Record(context.Background(), e))
	require.NoError(t, s.Close())
	assert.Len(t, readLogLines(t, path), 3)
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	var got []Record
	_, err = Walk(path, func(_ string, _ int, r Record) error { got = append(got, r); return nil })
	require.NoError(t, err)
	assert.Equal(t, e.Reason, got[1].Reason)
	assert.Equal(t, e.UniqueID, got[1].UniqueID)
}

func TestRestartContinuesTheChain(t *testing.T) {
	key := testKey(t)
	path := writeLog(t, key, 3) // records 1..5
	s := openSink(t, path, key)
	require.NoError(t, s.Record(context.Background(), event(100)))
	require.NoError(t, s.Close())

	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(8), rep.Records)
	var starts []string
	_, err = Walk(path, func(_ string, _ int, r Record) error {
		if r.Operation == OpStart {
			starts = append(starts, r.Reason)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"new log", "continuing the chain after record 5"}, starts)
}

func TestOpenRefusesAnotherKey(t *testing.T) {
	path := writeLog(t, testKey(t), 2)
	_, err := Open(Options{Path: path, Key: testKey(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot be extended")
	assert.Contains(t, err.Error(), "line 1")
}

func TestTornLastLineIsSetAsideAndAcknowledged(t *testing.T) {
	tests := []struct {
		name        string
		preallocate int64
	}{
		{"preallocated: the torn bytes after the unused space", 0},
		{"appended: the old format, the file ends in the torn line", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := testKey(t)
			path := filepath.Join(t.TempDir(), "audit.log")
			prealloc := func(o *Options) { o.Preallocate = tt.preallocate }
			s := openSink(t, path, key, prealloc)
			for i := 0; i < 3; i++ {
				require.NoError(t, s.Record(context.Background(), event(i)))
			}
			require.NoError(t, s.Close()) // 5 lines
			records := int64(len(bytes.Join(readLogLines(t, path), nil)))
			torn := []byte(`{"seq":6,"time":"2026-11-30T12:00:00Z","source":"kmip","ten`)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(torn)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			if tt.preallocate == 0 {
				require.Greater(t, int64(len(before)), records+int64(len(torn)), "zeros between the records and the torn bytes")
			}

			rep, err := Verify(path, key)
			require.NoError(t, err)
			require.NotNil(t, rep.Problem, "a torn last line must be reported")
			assert.Equal(t, 6, rep.Problem.Line)
			assert.Contains(t, rep.Problem.Reason, "torn")
			assert.Equal(t, uint64(5), rep.Records)

			// The restart keeps the torn file as it is and acknowledges it.
			s = openSink(t, path, key, prealloc)
			require.NoError(t, s.Record(context.Background(), event(7)))
			require.NoError(t, s.Close())
			kept, err := os.ReadFile(segmentName(path, 1))
			require.NoError(t, err)
			assert.Equal(t, before, kept)

			rep, err = Verify(path, key)
			require.NoError(t, err)
			require.Nil(t, rep.Problem)
			assert.Equal(t, 2, rep.Segments)
			assert.Equal(t, uint64(5+4), rep.Records) // recovered, start, event, stop
			var rec []Record
			_, err = Walk(path, func(_ string, _ int, r Record) error { rec = append(rec, r); return nil })
			require.NoError(t, err)
			require.Equal(t, OpRecovered, rec[5].Operation)
			assert.Equal(t, &Torn{Segment: 1, Offset: records, Bytes: len(before) - int(records)}, rec[5].Torn)

			// Without the acknowledgement the torn segment is a break.
			lines := readLogLines(t, path)
			writeLogLines(t, path, lines[1:])
			rep, err = Verify(path, key)
			require.NoError(t, err)
			require.NotNil(t, rep.Problem)
			assert.Contains(t, rep.Problem.Reason, "record 7 where 6 was expected")
		})
	}
}

func TestRotationChainsAcrossSegments(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	small := func(o *Options) { o.MaxSegmentSize = 2048 }
	s := openSink(t, path, key, small)
	for i := 0; i < 60; i++ {
		require.NoError(t, s.Record(context.Background(), event(i)))
	}
	require.NoError(t, s.Close())
	s = openSink(t, path, key, small) // a restart in the middle of the segment series
	for i := 60; i < 100; i++ {
		require.NoError(t, s.Record(context.Background(), event(i)))
	}
	require.NoError(t, s.Close())

	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(104), rep.Records)
	assert.Greater(t, rep.Segments, 5)
	for n := 1; n < rep.Segments; n++ {
		st, err := os.Stat(segmentName(path, n))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, st.Size(), int64(2048))
		assert.Less(t, st.Size(), int64(2048+1024))
	}

	tests := []struct {
		name   string
		tamper func(t *testing.T)
		want   string
	}{
		{"segment removed", func(t *testing.T) { require.NoError(t, os.Remove(segmentName(path, 3))) }, "where"},
		{"segments swapped", func(t *testing.T) {
			tmp := path + ".tmp"
			require.NoError(t, os.Rename(segmentName(path, 2), tmp))
			require.NoError(t, os.Rename(segmentName(path, 3), segmentName(path, 2)))
			require.NoError(t, os.Rename(tmp, segmentName(path, 3)))
		}, "where"},
		{"active file removed", func(t *testing.T) { require.NoError(t, os.Remove(path)) }, ""},
	}
	backup := t.TempDir()
	require.NoError(t, os.CopyFS(backup, os.DirFS(filepath.Dir(path))))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(filepath.Dir(path)))
			require.NoError(t, os.CopyFS(filepath.Dir(path), os.DirFS(backup)))
			tt.tamper(t)
			rep, err := Verify(path, key)
			require.NoError(t, err)
			if tt.want == "" {
				// Cutting the end off is not visible in the chain: it
				// shows as a different head (LastSeq, LastMAC).
				require.Nil(t, rep.Problem)
				assert.Less(t, rep.LastSeq, uint64(104))
				return
			}
			require.NotNil(t, rep.Problem)
			assert.Contains(t, rep.Problem.Reason, tt.want)
		})
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := openSink(t, path, key)
	const writers, each = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e := event(i)
				e.Client = fmt.Sprintf("writer-%02d", w)
				errs <- s.Record(context.Background(), e)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	commits := s.Commits()
	require.NoError(t, s.Close())
	t.Logf("%d records in %d commits", writers*each, commits)
	assert.Less(t, commits, uint64(writers*each), "concurrent records should share commits")

	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(writers*each+2), rep.Records)
	seen := map[string]int{}
	_, err = Walk(path, func(_ string, _ int, r Record) error {
		if r.Source == SourceKMIP {
			seen[r.Client+"/"+r.UniqueID]++
		}
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, seen, writers*each)
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}
}

func TestRecordAllSharesOneCommit(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := openSink(t, path, key)
	before := s.Commits()
	require.NoError(t, RecordAll(context.Background(), s, []Event{event(1), event(2), event(3)}))
	assert.Equal(t, before+1, s.Commits())
	require.NoError(t, s.Close())
}

func TestClosedAndCancelled(t *testing.T) {
	key := testKey(t)
	s := openSink(t, filepath.Join(t.TempDir(), "audit.log"), key)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.Record(ctx, event(1)), context.Canceled)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Record(context.Background(), event(2)), ErrClosed)
}

func TestFailedWriteFailsTheRecord(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := openSink(t, path, key)
	require.NoError(t, s.Record(context.Background(), event(1)))
	// Pull the file out from under the writer: every write fails, and
	// nothing half-written may be acknowledged.
	require.NoError(t, s.f.Close())
	assert.Error(t, s.Record(context.Background(), event(2)))
	assert.Error(t, s.Record(context.Background(), event(3)))
	assert.Equal(t, uint64(2), s.Failures(), "each failed record is counted")
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(s))
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		if m := f.GetMetric()[0]; m.GetCounter() != nil {
			got[f.GetName()] = m.GetCounter().GetValue()
		}
	}
	assert.Equal(t, map[string]float64{
		"kmip_adapter_audit_records_total": 2, "kmip_adapter_audit_commits_total": 2, "kmip_adapter_audit_record_failures_total": 2,
		"kmip_adapter_audit_extending_writes_total": 0,
	}, got, "the start record and event 1 were written, in two commits, over preallocated space")
	_ = s.Close()
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(2), rep.Records)
}

func TestOpenNeedsAKeyOfTheRightSize(t *testing.T) {
	_, err := Open(Options{Path: filepath.Join(t.TempDir(), "audit.log"), Key: []byte("short")})
	assert.ErrorContains(t, err, "chain key is 5 bytes")
	_, err = Open(Options{Key: testKey(t)})
	assert.ErrorContains(t, err, "no log path")
}

func TestOneWriterPerLog(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := openSink(t, path, key)
	_, err := Open(Options{Path: path, Key: key})
	require.Error(t, err, "two sinks on one log would fork its chain")
	assert.Contains(t, err.Error(), "in use by another process")
	require.NoError(t, s.Record(context.Background(), event(1)))
	require.NoError(t, s.Close())
	s = openSink(t, path, key) // free again once closed
	require.NoError(t, s.Close())
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(5), rep.Records)
}

func TestNotedHeadCatchesACutEnd(t *testing.T) {
	key := testKey(t)
	path := writeLog(t, key, 5) // records 1..7
	rep, err := Verify(path, key)
	require.NoError(t, err)
	head := &Head{Seq: rep.LastSeq, MAC: strings.ToUpper(rep.LastMAC)}

	// The log grows: the noted head is still in it.
	s := openSink(t, path, key)
	require.NoError(t, s.Record(context.Background(), event(9)))
	require.NoError(t, s.Close())
	rep, err = VerifyHead(path, key, head)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	grown := readLogLines(t, path)

	tests := []struct {
		name  string
		lines func() [][]byte
		want  string
	}{
		{"end cut off", func() [][]byte { return grown[:4] }, "the log ends at record 4, but record 7 was noted"},
		{"rewritten with the same key", func() [][]byte {
			other := writeLog(t, key, 6)
			return readLogLines(t, other)
		}, "the log was rewritten from here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeLogLines(t, path, tt.lines())
			rep, err := Verify(path, key)
			require.NoError(t, err)
			require.Nil(t, rep.Problem, "the chain alone cannot tell")
			rep, err = VerifyHead(path, key, head)
			require.NoError(t, err)
			require.NotNil(t, rep.Problem)
			assert.Contains(t, rep.Problem.Reason, tt.want)
		})
	}
}
