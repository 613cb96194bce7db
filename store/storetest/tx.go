package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// txFixture stores what the transaction cases change: "kept" is updated,
// "gone" deleted, "new" created, tenant "t-new" made.
func txFixture(t *testing.T, s store.Store) (kept *store.Object) {
	t.Helper()
	ctx := context.Background()
	kept = &store.Object{TenantID: "tenant-a", ID: "kept", ObjectType: typeSymmetricKey, State: statePreActive, Names: []string{"kept"}, Material: []byte("m1")}
	require.NoError(t, s.CreateObject(ctx, kept))
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "gone", ObjectType: typeSymmetricKey}))
	return kept
}

// txChanges makes the fixture's changes through tx, checking that tx
// reads its own writes (ListObjects and CountObjects included) while a
// reader outside does not see them.
func txChanges(t *testing.T, s, tx store.Store, kept *store.Object) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, tx.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "new", ObjectType: typeSecretData, Names: []string{"fresh"}, Index: ix(entry("group", "tx"))}))
	upd := clone(kept)
	upd.State, upd.Material, upd.Names = stateActive, nil, nil
	require.NoError(t, tx.UpdateObject(ctx, upd))
	require.NoError(t, tx.DeleteObject(ctx, "tenant-a", "gone"))
	require.NoError(t, tx.PutTenant(ctx, &store.Tenant{ID: "t-new", Backend: "pkcs11", KeyBlob: []byte("blob")}))

	got, err := tx.GetObject(ctx, "tenant-a", "kept")
	require.NoError(t, err)
	assert.Equal(t, uint32(stateActive), got.State, "the transaction reads its own update")
	assertIDs(t, tx, store.ListQuery{TenantID: "tenant-a", Name: "fresh"}, "new")
	assertIDs(t, tx, store.ListQuery{TenantID: "tenant-a", Match: ix(entry("group", "tx"))}, "new")
	assertIDs(t, tx, store.ListQuery{TenantID: "tenant-a", Name: "kept"})
	n, err := tx.CountObjects(ctx, store.ListQuery{TenantID: "tenant-a"})
	require.NoError(t, err)
	assert.Equal(t, 2, n, "kept and new, not gone")
	_, err = tx.GetObject(ctx, "tenant-a", "gone")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// Another goroutine (another client) sees none of it yet.
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := s.GetObject(ctx, "tenant-a", "new")
		assert.ErrorIs(t, err, store.ErrNotFound, "uncommitted create seen outside")
		o, err := s.GetObject(ctx, "tenant-a", "kept")
		if assert.NoError(t, err) {
			assert.Equal(t, uint32(statePreActive), o.State, "uncommitted update seen outside")
		}
		_, err = s.GetObject(ctx, "tenant-a", "gone")
		assert.NoError(t, err, "uncommitted delete seen outside")
	})
	wg.Wait()
}

func testTxCommit(t *testing.T, s store.Store) {
	ctx := context.Background()
	kept := txFixture(t, s)
	err := transactor(s).Update(ctx, func(tx store.Store) error {
		txChanges(t, s, tx, kept)
		return nil
	})
	require.NoError(t, err)
	o, err := s.GetObject(ctx, "tenant-a", "new")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), o.Revision)
	o, err = s.GetObject(ctx, "tenant-a", "kept")
	require.NoError(t, err)
	assert.Equal(t, uint32(stateActive), o.State)
	assert.Empty(t, o.Material)
	assert.Equal(t, uint64(2), o.Revision)
	_, err = s.GetObject(ctx, "tenant-a", "gone")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetTenant(ctx, "t-new")
	assert.NoError(t, err)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "fresh"}, "new")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "kept"})
}

func testTxRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	kept := txFixture(t, s)
	failure := errors.New("a later batch item failed")
	err := transactor(s).Update(ctx, func(tx store.Store) error {
		txChanges(t, s, tx, kept)
		return failure
	})
	require.ErrorIs(t, err, failure, "fn's error comes back as it is")
	_, err = s.GetObject(ctx, "tenant-a", "new")
	assert.ErrorIs(t, err, store.ErrNotFound)
	o, err := s.GetObject(ctx, "tenant-a", "kept")
	require.NoError(t, err)
	assertObject(t, kept, o)
	assert.Equal(t, []byte("m1"), o.Material, "the material of an undone Destroy is back")
	_, err = s.GetObject(ctx, "tenant-a", "gone")
	assert.NoError(t, err)
	_, err = s.GetTenant(ctx, "t-new")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "kept"}, "kept")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "fresh"})
	// The store works on after a rollback.
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "after"}))
}

// testTxErrorsInside: a conflict, an existing ID and a missing object met
// inside a transaction are errors of that call only; the transaction
// commits what else it did.
func testTxErrorsInside(t *testing.T, s store.Store) {
	ctx := context.Background()
	kept := txFixture(t, s)
	stale := clone(kept)
	require.NoError(t, s.UpdateObject(ctx, clone(kept)))
	err := transactor(s).Update(ctx, func(tx store.Store) error {
		assert.ErrorIs(t, tx.UpdateObject(ctx, clone(stale)), store.ErrConflict)
		assert.ErrorIs(t, tx.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "gone"}), store.ErrExists)
		assert.ErrorIs(t, tx.DeleteObject(ctx, "tenant-a", "nothing"), store.ErrNotFound)
		_, err := tx.GetObject(ctx, "tenant-a", "nothing")
		assert.ErrorIs(t, err, store.ErrNotFound)
		return tx.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "new"})
	})
	require.NoError(t, err)
	_, err = s.GetObject(ctx, "tenant-a", "new")
	assert.NoError(t, err)
}

// testTxConcurrent: transactions that read, change and write one object
// (retrying on ErrConflict, as the operations do) lose no update, and
// each one's second object exists exactly when its change does.
func testTxConcurrent(t *testing.T, s store.Store) {
	const workers = 8
	ctx := context.Background()
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "counter"}))
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for attempt := 0; attempt < 1000; attempt++ {
				err := transactor(s).Update(ctx, func(tx store.Store) error {
					o, err := tx.GetObject(ctx, "tenant-a", "counter")
					if err != nil {
						return err
					}
					o.Names = append(o.Names, fmt.Sprintf("w%d", g))
					if err := tx.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: fmt.Sprintf("side-%d", g)}); err != nil {
						return err
					}
					return tx.UpdateObject(ctx, o)
				})
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				assert.NoError(t, err)
				return
			}
			t.Errorf("worker %d: no commit in 1000 attempts", g)
		})
	}
	wg.Wait()
	o, err := s.GetObject(ctx, "tenant-a", "counter")
	require.NoError(t, err)
	assert.Equal(t, uint64(1+workers), o.Revision)
	assert.Len(t, o.Names, workers, "a lost update")
	n, err := s.CountObjects(ctx, store.ListQuery{TenantID: "tenant-a"})
	require.NoError(t, err)
	assert.Equal(t, 1+workers, n, "one side object per committed transaction")
}

// transactor is s's store.Transactor (the Tx tests run on stores that
// have one).
func transactor(s store.Store) store.Transactor {
	tr, _ := store.As[store.Transactor](s)
	return tr
}
