package audit

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// headRecorder is a HeadWriter that keeps every head it is given; fail
// makes writes fail, delay slows them down.
type headRecorder struct {
	mu    sync.Mutex
	heads []LogHead
	fail  bool
	delay time.Duration
}

func (r *headRecorder) WriteHead(_ context.Context, h LogHead) error {
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("store down")
	}
	r.heads = append(r.heads, h)
	return nil
}

func (r *headRecorder) last() (LogHead, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.heads) == 0 {
		return LogHead{}, 0
	}
	return r.heads[len(r.heads)-1], len(r.heads)
}

func (r *headRecorder) setFail(v bool) { r.mu.Lock(); r.fail = v; r.mu.Unlock() }

func TestCheckpointCadence(t *testing.T) {
	tests := []struct {
		name     string
		every    int
		interval time.Duration
		records  int
		// wantAtLeast is the head the checkpoints reach without Close,
		// within a second: fewer than every records behind the log's
		// end, or everything (the interval).
		wantAtLeast uint64
		maxWrites   int // while the records are written
	}{
		// Every 10 records, the interval out of the way: the head stored
		// trails the log (the start record and 35) by fewer than 10
		// records. Which head a write takes depends on how far the writer
		// got meanwhile, so no multiple of 10 is promised.
		{name: "every N records", every: 10, interval: time.Hour, records: 35, wantAtLeast: 27, maxWrites: 4},
		// Few records, a short interval: the interval stores them all.
		{name: "every interval", every: 1 << 20, interval: 50 * time.Millisecond, records: 3, wantAtLeast: 4, maxWrites: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := testKey(t)
			path := filepath.Join(t.TempDir(), "audit.log")
			rec := &headRecorder{}
			s := openSink(t, path, key, func(o *Options) { o.Heads, o.HeadEvery, o.HeadInterval, o.NoSync = rec, tc.every, tc.interval, true })
			for i := 0; i < tc.records; i++ {
				require.NoError(t, s.Record(context.Background(), event(i)))
			}
			require.Eventually(t, func() bool { h, _ := rec.last(); return h.Seq >= tc.wantAtLeast }, 2*time.Second, 5*time.Millisecond,
				"the stored head never reached record %d", tc.wantAtLeast)
			time.Sleep(3 * min(tc.interval, 100*time.Millisecond))
			head, writes := rec.last()
			assert.LessOrEqual(t, writes, tc.maxWrites, "one write per %d records or per interval, not per record", tc.every)
			assert.LessOrEqual(t, uint64(1+tc.records)-head.Seq, uint64(min(tc.every, 1+tc.records)), "the stored head trails by less than the bound")
			assert.Equal(t, s.LogID(), head.LogID)
			assert.Equal(t, path, head.Path)

			require.NoError(t, s.Close())
			final, _ := rec.last()
			rep, err := Verify(path, key)
			require.NoError(t, err)
			require.Nil(t, rep.Problem)
			assert.Equal(t, rep.LastSeq, final.Seq, "Close stores the head of the stop record")
			assert.Equal(t, rep.LastMAC, final.MAC)
			id, err := LogID(path)
			require.NoError(t, err)
			assert.Equal(t, id, final.LogID)
		})
	}
}

// TestCheckpointDoesNotSlowRecords: a slow head store never holds up
// Record (the checkpoint is written beside the log writer).
func TestCheckpointDoesNotSlowRecords(t *testing.T) {
	rec := &headRecorder{delay: 300 * time.Millisecond}
	s := openSink(t, filepath.Join(t.TempDir(), "audit.log"), testKey(t), func(o *Options) { o.Heads, o.HeadEvery, o.NoSync = rec, 2, true })
	start := time.Now()
	for i := 0; i < 50; i++ {
		require.NoError(t, s.Record(context.Background(), event(i)))
	}
	assert.Less(t, time.Since(start), 250*time.Millisecond, "records waited for the head store")
	require.NoError(t, s.Close())
	head, _ := rec.last()
	assert.Equal(t, uint64(52), head.Seq, "the final head is stored at Close")
}

// TestCheckpointFailureIsReportedOnce: a head store that fails is
// reported once per streak, and the head is stored again once it works.
func TestCheckpointFailureIsReportedOnce(t *testing.T) {
	rec := &headRecorder{fail: true}
	var mu sync.Mutex
	var reported []error
	s := openSink(t, filepath.Join(t.TempDir(), "audit.log"), testKey(t), func(o *Options) {
		o.Heads, o.HeadInterval, o.NoSync = rec, 10*time.Millisecond, true
		o.OnHeadError = func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }
	})
	for i := 0; i < 5; i++ {
		require.NoError(t, s.Record(context.Background(), event(i)), "a failing head store does not fail records")
		time.Sleep(15 * time.Millisecond)
	}
	mu.Lock()
	require.Len(t, reported, 1)
	assert.ErrorContains(t, reported[0], "store down")
	mu.Unlock()
	_, failures, lag := s.heads.stats()
	assert.GreaterOrEqual(t, failures, uint64(2), "each failed write is counted")
	assert.Equal(t, uint64(6), lag, "nothing stored yet")
	rec.setFail(false)
	require.Eventually(t, func() bool { w, _, lag := s.heads.stats(); return w == 1 && lag == 0 }, time.Second, 5*time.Millisecond)
	h, _ := rec.last()
	assert.Equal(t, uint64(6), h.Seq)
	require.NoError(t, s.Close())
}

// TestStoredHeadDetectsCut: the head a sink stored through StoreHeads in
// a real store shows a log cut at its end, which the chain alone does not.
func TestStoredHeadDetectsCut(t *testing.T) {
	ctx := context.Background()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	defer st.Close()
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	heads := &StoreHeads{Store: st, Node: "node-a"}
	for run := 0; run < 2; run++ { // a restart continues the same log and checkpoint
		s := openSink(t, path, key, func(o *Options) { o.Heads, o.NoSync = heads, true })
		for i := 0; i < 20; i++ {
			require.NoError(t, s.Record(ctx, event(i)))
		}
		require.NoError(t, s.Close())
	}
	id, err := LogID(path)
	require.NoError(t, err)
	h, err := ReadStoredHead(ctx, st, id)
	require.NoError(t, err)
	assert.Equal(t, "node-a", h.Node)
	assert.Equal(t, uint64(44), h.Seq) // two runs of start, 20 events, stop
	c, err := st.GetCheckpoint(ctx, store.CheckpointAuditHead, id)
	require.NoError(t, err)
	assert.Greater(t, c.Revision, uint64(1))

	hd := h.Head()
	rep, err := VerifyHead(path, key, &hd)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)

	lines := readLogLines(t, path)
	writeLogLines(t, path, lines[:len(lines)-3])
	rep, err = Verify(path, key)
	require.NoError(t, err)
	assert.Nil(t, rep.Problem, "the chain alone does not show a cut end")
	rep, err = VerifyHead(path, key, &hd)
	require.NoError(t, err)
	require.NotNil(t, rep.Problem, "the stored head shows it")
	assert.Contains(t, rep.Problem.Reason, "cut off the end")

	_, err = ReadStoredHead(ctx, st, "0123")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
