package bbolt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// TestWriteBehind: with store.WithWriteBehind, UpdateObject holds the
// write (nothing committed, other readers see the object as it was), the
// same context's GetObject reads the held object, Flush commits every held
// write in one transaction; a held write refused when applied (another
// writer changed the object in between) makes Flush fail with
// ErrHeldWriteRefused and commit nothing; a call that needs the index
// flushes first, and after a flush writes go straight to the store.
func TestWriteBehind(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
	require.NoError(t, err)
	defer s.Close()
	bg := context.Background()
	for _, id := range []string{"a", "b"} {
		require.NoError(t, s.CreateObject(bg, &store.Object{TenantID: "t", ID: id, ObjectType: 2, State: 1, Names: []string{id}}))
	}
	edit := func(ctx context.Context, id string, state uint32) {
		t.Helper()
		o, err := s.GetObject(ctx, "t", id)
		require.NoError(t, err)
		o.State = state
		require.NoError(t, s.UpdateObject(ctx, o))
	}
	stateOf := func(ctx context.Context, id string) (uint32, uint64) {
		t.Helper()
		o, err := s.GetObject(ctx, "t", id)
		require.NoError(t, err)
		return o.State, o.Revision
	}

	t.Run("held, read back, flushed once", func(t *testing.T) {
		ctx, w := store.WithWriteBehind(bg)
		commits := s.writes.commits.Load()
		edit(ctx, "a", 2)
		edit(ctx, "a", 3) // reads the held revision
		edit(ctx, "b", 2)
		st, rev := stateOf(ctx, "a")
		assert.Equal(t, uint32(3), st, "the message reads its own held write")
		assert.Equal(t, uint64(3), rev)
		st, rev = stateOf(bg, "a")
		assert.Equal(t, uint32(1), st, "nothing committed before Flush")
		assert.Equal(t, uint64(1), rev)
		assert.Equal(t, commits, s.writes.commits.Load())

		require.NoError(t, w.Flush())
		assert.Equal(t, commits+1, s.writes.commits.Load(), "three writes, one commit")
		st, rev = stateOf(bg, "a")
		assert.Equal(t, uint32(3), st)
		assert.Equal(t, uint64(3), rev)
		st, _ = stateOf(bg, "b")
		assert.Equal(t, uint32(2), st)
		assert.False(t, w.Retry())

		edit(ctx, "b", 3) // after the flush: written at once
		st, _ = stateOf(bg, "b")
		assert.Equal(t, uint32(3), st)
	})

	t.Run("refused when applied: nothing committed", func(t *testing.T) {
		ctx, w := store.WithWriteBehind(bg)
		edit(ctx, "b", 4)
		edit(ctx, "a", 4)
		edit(bg, "a", 5) // another client, in between
		err := w.Flush()
		require.ErrorIs(t, err, store.ErrHeldWriteRefused)
		require.ErrorIs(t, err, store.ErrConflict)
		assert.True(t, w.Retry())
		st, _ := stateOf(bg, "b")
		assert.Equal(t, uint32(3), st, "the held write of b before the refused one is not committed either")
		st, _ = stateOf(bg, "a")
		assert.Equal(t, uint32(5), st)
		require.ErrorIs(t, w.Flush(), store.ErrHeldWriteRefused, "stays failed")
	})

	t.Run("a search flushes first", func(t *testing.T) {
		ctx, w := store.WithWriteBehind(bg)
		edit(ctx, "a", 6)
		got, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t", States: []uint32{6}, IDsOnly: true})
		require.NoError(t, err)
		require.Len(t, got, 1, "the index shows the held write")
		assert.Equal(t, "a", got[0].ID)
		assert.False(t, w.Holding())
		st, _ := stateOf(bg, "a")
		assert.Equal(t, uint32(6), st)
		require.NoError(t, w.Flush())
	})

	t.Run("failed flush fails the call that needed it", func(t *testing.T) {
		ctx, w := store.WithWriteBehind(bg)
		edit(ctx, "a", 7)
		boom := errors.New("fdatasync: input/output error")
		s.writes.failCommit.Store(&boom)
		_, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t", IDsOnly: true})
		require.ErrorIs(t, err, boom)
		assert.False(t, w.Retry(), "not a refusal: the message fails")
		st, _ := stateOf(bg, "a")
		assert.Equal(t, uint32(6), st)
	})
}
