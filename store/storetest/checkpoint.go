package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

func checkpoints(t *testing.T, s store.Store) store.Checkpoints {
	t.Helper()
	c, ok := store.As[store.Checkpoints](s)
	require.True(t, ok, "%T does not implement store.Checkpoints", s)
	return c
}

// testCheckpoints: create, read, replace with the revision check, list by
// kind, delete; the same ID under two kinds is two checkpoints.
func testCheckpoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	cs := checkpoints(t, s)
	_, err := cs.GetCheckpoint(ctx, store.CheckpointAuditHead, "log-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	list, err := cs.ListCheckpoints(ctx, store.CheckpointAuditHead)
	require.NoError(t, err)
	assert.Empty(t, list)

	head := &store.Checkpoint{Kind: store.CheckpointAuditHead, ID: "log-1", Node: "node-a", Data: []byte(`{"seq": 7, "mac": "ab"}`)}
	require.NoError(t, cs.PutCheckpoint(ctx, head))
	assert.Equal(t, uint64(1), head.Revision)
	assert.False(t, head.CreatedAt.IsZero())
	assert.Equal(t, head.CreatedAt, head.UpdatedAt)
	dup := &store.Checkpoint{Kind: store.CheckpointAuditHead, ID: "log-1", Node: "node-b", Data: []byte(`{}`)}
	assert.ErrorIs(t, cs.PutCheckpoint(ctx, dup), store.ErrExists)
	// The same ID under another kind is another checkpoint.
	job := &store.Checkpoint{Kind: store.CheckpointJob, ID: "log-1", Node: "ctl", Data: []byte(`{"cursor":"t9"}`)}
	require.NoError(t, cs.PutCheckpoint(ctx, job))
	require.NoError(t, cs.PutCheckpoint(ctx, &store.Checkpoint{Kind: store.CheckpointAuditHead, ID: "log-0", Node: "node-b", Data: []byte(`{"seq":1}`)}))

	got, err := cs.GetCheckpoint(ctx, store.CheckpointAuditHead, "log-1")
	require.NoError(t, err)
	assert.Equal(t, "node-a", got.Node)
	assert.JSONEq(t, `{"seq":7,"mac":"ab"}`, string(got.Data))
	assert.Equal(t, uint64(1), got.Revision)
	assert.WithinDuration(t, head.CreatedAt, got.CreatedAt, precision)

	time.Sleep(tick)
	got.Data, got.Node = []byte(`{"seq":9,"mac":"cd"}`), "node-c"
	require.NoError(t, cs.PutCheckpoint(ctx, got))
	assert.Equal(t, uint64(2), got.Revision)
	assert.True(t, got.UpdatedAt.After(got.CreatedAt), "UpdatedAt moves on replace")
	head.Data = []byte(`{"seq":8}`)
	assert.ErrorIs(t, cs.PutCheckpoint(ctx, head), store.ErrConflict, "a stale revision is refused")
	again, err := cs.GetCheckpoint(ctx, store.CheckpointAuditHead, "log-1")
	require.NoError(t, err)
	assert.JSONEq(t, `{"seq":9,"mac":"cd"}`, string(again.Data), "the refused write changed nothing")
	assert.Equal(t, "node-c", again.Node)

	missing := &store.Checkpoint{Kind: store.CheckpointJob, ID: "none", Node: "x", Data: []byte(`{}`), Revision: 3}
	assert.ErrorIs(t, cs.PutCheckpoint(ctx, missing), store.ErrNotFound)
	assert.Error(t, cs.PutCheckpoint(ctx, &store.Checkpoint{Kind: store.CheckpointJob, ID: "bad", Data: []byte(`{not json`)}))
	assert.Error(t, cs.PutCheckpoint(ctx, &store.Checkpoint{Kind: store.CheckpointJob, Data: []byte(`{}`)}), "empty id")

	list, err = cs.ListCheckpoints(ctx, store.CheckpointAuditHead)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{"log-0", "log-1"}, []string{list[0].ID, list[1].ID})
	list, err = cs.ListCheckpoints(ctx, store.CheckpointJob)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.JSONEq(t, `{"cursor":"t9"}`, string(list[0].Data))

	require.NoError(t, cs.DeleteCheckpoint(ctx, store.CheckpointAuditHead, "log-1"))
	assert.ErrorIs(t, cs.DeleteCheckpoint(ctx, store.CheckpointAuditHead, "log-1"), store.ErrNotFound)
	_, err = cs.GetCheckpoint(ctx, store.CheckpointAuditHead, "log-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = cs.GetCheckpoint(ctx, store.CheckpointJob, "log-1")
	assert.NoError(t, err, "deleting one kind's checkpoint keeps the other's")
}

// testCheckpointsConcurrent: writers racing on one checkpoint with the
// revision they read lose no update: each write that succeeds moves the
// revision by one.
func testCheckpointsConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	cs := checkpoints(t, s)
	require.NoError(t, cs.PutCheckpoint(ctx, &store.Checkpoint{Kind: store.CheckpointJob, ID: "race", Node: "n", Data: []byte(`{}`)}))
	const writers, each = 4, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				c, err := cs.GetCheckpoint(ctx, store.CheckpointJob, "race")
				if !assert.NoError(t, err) {
					return
				}
				err = cs.PutCheckpoint(ctx, c)
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				wins++
				mu.Unlock()
				i++
			}
		}()
	}
	wg.Wait()
	c, err := cs.GetCheckpoint(ctx, store.CheckpointJob, "race")
	require.NoError(t, err)
	assert.Equal(t, uint64(1+wins), c.Revision)
	assert.Equal(t, writers*each, wins)
}
