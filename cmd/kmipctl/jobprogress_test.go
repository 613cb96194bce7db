package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// fakeRewrapper moves blobs "old" to "new" and counts what it was asked.
type fakeRewrapper struct {
	mu    sync.Mutex
	asked []string
}

func (f *fakeRewrapper) NeedsRewrap(tk backend.TenantKey) (bool, error) {
	f.mu.Lock()
	f.asked = append(f.asked, tk.TenantID)
	f.mu.Unlock()
	return string(tk.Blob) == "old", nil
}

func (f *fakeRewrapper) RewrapTenantKey(_ context.Context, tk backend.TenantKey) (backend.TenantKey, error) {
	tk.Blob = []byte("new")
	return tk, nil
}

func jobRecord(t *testing.T, st store.Store, job string) (jobState, *store.Checkpoint) {
	t.Helper()
	cs, ok := store.As[store.Checkpoints](st)
	require.True(t, ok)
	c, err := cs.GetCheckpoint(context.Background(), store.CheckpointJob, job)
	require.NoError(t, err)
	var s jobState
	require.NoError(t, json.Unmarshal(c.Data, &s))
	return s, c
}

// TestRotateResumesFromStoredCursor: a run that died (its record left
// "running") is resumed after its cursor, with its failed tenants
// retried; one still running elsewhere is refused; a finished job starts
// over; --status prints the stored progress.
func TestRotateResumesFromStoredCursor(t *testing.T) {
	ctx := context.Background()
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	defer st.Close()
	var ids []string
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("t%02d", i)
		ids = append(ids, id)
		blob := "old"
		if i <= 5 && i != 2 {
			blob = "new" // done by the run that died; t02 failed in it
		}
		require.NoError(t, st.PutTenant(ctx, &store.Tenant{ID: id, Backend: "pkcs11", KeyBlob: []byte(blob)}))
	}
	died := jobState{State: jobRunning, Cursor: "t05", Done: 5, Total: 10, Failed: []string{"t02"}, Started: time.Now().Add(-time.Hour).UTC()}
	data, err := json.Marshal(died)
	require.NoError(t, err)
	require.NoError(t, st.PutCheckpoint(ctx, &store.Checkpoint{Kind: store.CheckpointJob, ID: "hsm_rotate", Node: "other-host", Data: data}))

	// Written just now: a run elsewhere that is alive.
	var out bytes.Buffer
	rw := &fakeRewrapper{}
	err = rotate(ctx, &out, st, rw, "pkcs11", "hsm_rotate", nil)
	require.ErrorContains(t, err, "hsm_rotate is running on other-host")
	assert.Empty(t, rw.asked)

	defer func(d time.Duration) { jobStale = d }(jobStale)
	jobStale = 0 // the record is old enough: that run died
	out.Reset()
	require.NoError(t, rotate(ctx, &out, st, rw, "pkcs11", "hsm_rotate", nil), out.String())
	assert.Equal(t, []string{"t02", "t06", "t07", "t08", "t09"}, rw.asked, "only the failed tenant and those after the cursor")
	assert.Contains(t, out.String(), `resuming hsm_rotate`)
	assert.Contains(t, out.String(), `after tenant "t05", 5 of 10 tenants done, 1 failed tenants retried`)
	for _, id := range ids {
		tn, err := st.GetTenant(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "new", string(tn.KeyBlob), id)
	}
	s, rec := jobRecord(t, st, "hsm_rotate")
	assert.Equal(t, jobDone, s.State)
	assert.Equal(t, 10, s.Done)
	assert.Equal(t, 10, s.Total)
	assert.Empty(t, s.Failed)
	assert.Equal(t, "t09", s.Cursor)
	assert.Equal(t, died.Started.Truncate(time.Second), s.Started.Truncate(time.Second), "a resumed job keeps its start")
	assert.Contains(t, rec.Node, "kmipctl pid")

	out.Reset()
	require.NoError(t, printJobStatus(ctx, &out, st, "hsm_rotate"))
	assert.Contains(t, out.String(), "state     done")
	assert.Contains(t, out.String(), "tenants   10 of 10 done, 0 failed")

	// A finished job starts over: every tenant is looked at again.
	rw2 := &fakeRewrapper{}
	require.NoError(t, rotate(ctx, &out, st, rw2, "pkcs11", "hsm_rotate", nil))
	assert.Equal(t, ids, rw2.asked)

	// Interrupted (Ctrl-C) in the second tenant, whose write is then
	// refused: recorded (that tenant as failed), and resumed at once by
	// the next run, whatever jobStale says.
	jobStale = time.Hour
	for _, id := range ids {
		tn, err := st.GetTenant(ctx, id)
		require.NoError(t, err)
		tn.KeyBlob = []byte("old")
		require.NoError(t, st.PutTenant(ctx, tn))
	}
	cctx, cancel := context.WithCancel(ctx)
	stopper := &cancelAfter{fakeRewrapper: &fakeRewrapper{}, at: 2, cancel: cancel}
	err = rotate(cctx, &out, st, stopper, "pkcs11", "kms_rewrap", nil)
	require.ErrorIs(t, err, context.Canceled)
	s, _ = jobRecord(t, st, "kms_rewrap")
	assert.Equal(t, jobInterrupted, s.State)
	assert.Equal(t, "t01", s.Cursor)
	assert.Equal(t, []string{"t01"}, s.Failed)
	assert.Equal(t, 1, s.Done)
	rw3 := &fakeRewrapper{}
	require.NoError(t, rotate(ctx, &out, st, rw3, "pkcs11", "kms_rewrap", nil))
	assert.Equal(t, ids[1:], rw3.asked, "the interrupted run is resumed: its failed tenant, then those after its cursor")

	out.Reset()
	require.NoError(t, printJobStatus(ctx, &out, st, "no_such_job"))
	assert.Contains(t, out.String(), "never run")
}

// cancelAfter cancels the run's context when it is asked about its
// at-th tenant (as Ctrl-C would in the middle of it).
type cancelAfter struct {
	*fakeRewrapper
	at     int
	asked  int
	cancel func()
}

func (c *cancelAfter) NeedsRewrap(tk backend.TenantKey) (bool, error) {
	c.asked++
	if c.asked == c.at {
		c.cancel()
	}
	return c.fakeRewrapper.NeedsRewrap(tk)
}
