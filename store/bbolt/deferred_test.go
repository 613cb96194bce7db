package bbolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// TestDeferredDurability: with store.WithDeferredDurability a write
// returns before its commit and hands the wait to the Deferred; the write
// is on disk once Wait returns nil; the operation's next call of the store
// reads its own write; a write's own failure (an existing ID) is returned
// by the write, not deferred; UpdateObject defers like CreateObject, and
// other writes (a tenant's record) never do; a commit that fails after
// the write applied reaches Wait and every later call with that context,
// and nothing of it is stored.
func TestDeferredDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	obj := func(id string) *store.Object {
		return &store.Object{TenantID: "t", ID: id, ObjectType: 2, Names: []string{id}}
	}

	t.Run("concurrent writers", func(t *testing.T) {
		const writers = 16
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, d := store.WithDeferredDurability(context.Background())
				id := fmt.Sprintf("d%02d", i)
				if errs[i] = s.CreateObject(ctx, obj(id)); errs[i] != nil {
					return
				}
				// Its own write is visible to the operation's next call.
				got, err := s.GetObject(ctx, "t", id)
				if err != nil || got.ID != id {
					errs[i] = fmt.Errorf("read back %s: %v", id, err)
					return
				}
				errs[i] = d.Wait()
			}()
		}
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "writer %d", i)
		}
	})

	t.Run("own failure not deferred", func(t *testing.T) {
		ctx, d := store.WithDeferredDurability(context.Background())
		require.ErrorIs(t, s.CreateObject(ctx, obj("d00")), store.ErrExists)
		assert.False(t, d.Pending())
		assert.NoError(t, d.Wait())
	})

	t.Run("other writes are durable when they return", func(t *testing.T) {
		ctx, d := store.WithDeferredDurability(context.Background())
		require.NoError(t, s.PutTenant(ctx, &store.Tenant{ID: "t2", Backend: "pkcs11", KeyBlob: []byte("blob")}))
		assert.False(t, d.Pending(), "a tenant's record is acted on at once: never deferred")
	})

	t.Run("update deferred", func(t *testing.T) {
		ctx, d := store.WithDeferredDurability(context.Background())
		got, err := s.GetObject(ctx, "t", "d00")
		require.NoError(t, err)
		rev := got.Revision
		got.State = 2
		require.NoError(t, s.UpdateObject(ctx, got))
		assert.Equal(t, rev+1, got.Revision, "the new revision is known when the write returns")
		require.True(t, d.Pending())
		again, err := s.GetObject(ctx, "t", "d00")
		require.NoError(t, err, "the operation's next call waits for the commit")
		assert.Equal(t, uint32(2), again.State)
		assert.Equal(t, rev+1, again.Revision)
		require.NoError(t, d.Wait())

		// A stale revision is the write's own refusal: returned at once,
		// nothing deferred.
		ctx, d = store.WithDeferredDurability(context.Background())
		got.Revision = rev
		require.ErrorIs(t, s.UpdateObject(ctx, got), store.ErrConflict)
		assert.False(t, d.Pending())
	})

	t.Run("failed commit", func(t *testing.T) {
		ctx, d := store.WithDeferredDurability(context.Background())
		boom := errors.New("fdatasync: input/output error")
		s.writes.failCommit.Store(&boom)
		require.NoError(t, s.CreateObject(ctx, obj("lost")), "applied: the write's checks passed")
		require.True(t, d.Pending())
		require.ErrorIs(t, d.Wait(), boom)
		require.ErrorIs(t, d.Wait(), boom, "stays failed")
		_, err := s.GetObject(ctx, "t", "d01")
		require.ErrorIs(t, err, boom, "a later call of the operation fails")
		_, err = s.GetObject(context.Background(), "t", "lost")
		require.ErrorIs(t, err, store.ErrNotFound)

		// An update whose commit fails leaves the object as it was.
		ctx, d = store.WithDeferredDurability(context.Background())
		before, err := s.GetObject(ctx, "t", "d02")
		require.NoError(t, err)
		changed := *before
		changed.State = 5
		s.writes.failCommit.Store(&boom)
		require.NoError(t, s.UpdateObject(ctx, &changed))
		require.ErrorIs(t, d.Wait(), boom)
		after, err := s.GetObject(context.Background(), "t", "d02")
		require.NoError(t, err)
		assert.Equal(t, before.State, after.State)
		assert.Equal(t, before.Revision, after.Revision)
	})

	require.NoError(t, s.Close())
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	for i := range 16 {
		_, err := s.GetObject(context.Background(), "t", fmt.Sprintf("d%02d", i))
		assert.NoError(t, err, "d%02d durable", i)
	}
	_, err = s.GetObject(context.Background(), "t", "lost")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
