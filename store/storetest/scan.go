package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// testBinaryText checks that names and index keys are bytes, not text: a
// client may send a Name with a NUL or with bytes that are not UTF-8, and
// the store must keep and find it like any other.
func testBinaryText(t *testing.T, s store.Store) {
	ctx := context.Background()
	odd := []string{"nul\x00inside", "\xff\xfe not utf-8", "\x00"}
	o := &store.Object{
		TenantID: "tenant-a", ID: "k1", Names: odd,
		Index: []store.IndexEntry{{Key: "x-\x00key", Value: []byte("v")}, {Key: "x-\xffkey", Value: []byte{0}}},
	}
	require.NoError(t, s.CreateObject(ctx, o))
	got, err := s.GetObject(ctx, "tenant-a", "k1")
	require.NoError(t, err)
	assertObject(t, o, got)
	for _, name := range odd {
		assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: name}, "k1")
	}
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "nul"})
	for _, e := range o.Index {
		assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{e}}, "k1")
	}
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("x-", "v")}})
}

// testScanner checks store.Scanner, for stores that implement it: every
// tenant is listed, objects come in ID order, a scan resumes after an ID,
// and an error from the callback stops it.
func testScanner(t *testing.T, s store.Store) {
	sc, ok := store.As[store.Scanner](s)
	if !ok {
		t.Skipf("%T does not implement store.Scanner", s)
	}
	ctx := context.Background()
	ids, err := sc.TenantIDs(ctx)
	require.NoError(t, err)
	assert.Empty(t, ids, "an empty store has no tenants")

	// More objects than a store is likely to read at once, created in an
	// order that is not ID order.
	const n = 260
	var want []string
	for i := range n {
		id := fmt.Sprintf("k%03d", (i*7)%n)
		require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-b", ID: id, Names: []string{id}, Material: []byte(id)}))
	}
	for i := range n {
		want = append(want, fmt.Sprintf("k%03d", i))
	}
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "only", Material: []byte("only")}))
	require.NoError(t, s.PutTenant(ctx, &store.Tenant{ID: "tenant-c", Backend: "pkcs11"}))
	require.NoError(t, s.PutTenant(ctx, &store.Tenant{ID: "tenant-b", Backend: "pkcs11"}))

	ids, err = sc.TenantIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"tenant-a", "tenant-b", "tenant-c"}, ids, "tenants with a record, objects or both")

	scan := func(tenant, after string) []string {
		t.Helper()
		var got []string
		require.NoError(t, sc.ScanObjects(ctx, tenant, after, func(o *store.Object) error {
			assert.Equal(t, tenant, o.TenantID)
			assert.Equal(t, o.ID, string(o.Material), "whole records")
			got = append(got, o.ID)
			return nil
		}))
		return got
	}
	assert.Equal(t, want, scan("tenant-b", ""))
	assert.Equal(t, want[101:], scan("tenant-b", want[100]))
	assert.Equal(t, want[101:], scan("tenant-b", want[100]+"-"), "after an ID that does not exist")
	assert.Equal(t, want, scan("tenant-b", "a"), "after an ID before all")
	assert.Empty(t, scan("tenant-b", want[n-1]))
	assert.Equal(t, []string{"only"}, scan("tenant-a", ""))
	assert.Empty(t, scan("tenant-c", ""))
	assert.Empty(t, scan("tenant-z", ""))

	got, err := s.GetObject(ctx, "tenant-b", "k000")
	require.NoError(t, err)
	stop := errors.New("stop")
	calls := 0
	err = sc.ScanObjects(ctx, "tenant-b", "", func(o *store.Object) error {
		calls++
		assertObject(t, got, o)
		o.Material[0] ^= 0xff // the object is the callback's
		return stop
	})
	require.ErrorIs(t, err, stop, "the callback's error comes back")
	assert.Equal(t, 1, calls, "an error stops the scan")
	again, err := s.GetObject(ctx, "tenant-b", "k000")
	require.NoError(t, err)
	assertObject(t, got, again)
}

// testImporter checks store.Importer, for stores that implement it:
// records keep their revision and timestamps, are indexed like created
// ones, and an import run again reports what is there.
func testImporter(t *testing.T, s store.Store) {
	im, ok := store.As[store.Importer](s)
	if !ok {
		t.Skipf("%T does not implement store.Importer", s)
	}
	ctx := context.Background()
	past := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	tenant := &store.Tenant{ID: "tenant-a", Backend: "pkcs11", KeyBlob: []byte{1, 2}, Revision: 3, CreatedAt: past, UpdatedAt: past.Add(time.Hour)}
	require.NoError(t, im.ImportTenant(ctx, tenant))
	gotTenant, err := s.GetTenant(ctx, "tenant-a")
	require.NoError(t, err)
	assertTenant(t, tenant, gotTenant)
	require.ErrorIs(t, im.ImportTenant(ctx, &store.Tenant{ID: "tenant-a", Backend: "x", Revision: 1}), store.ErrExists)

	older := &store.Object{TenantID: "tenant-a", ID: "z-old", ObjectType: typeSymmetricKey, State: stateActive, Names: []string{"n"},
		Index: ix(entry("group", "g")), Material: []byte("m1"), Revision: 9, CreatedAt: past, UpdatedAt: past.Add(time.Minute)}
	newer := &store.Object{TenantID: "tenant-a", ID: "a-new", ObjectType: typeSecretData, State: statePreActive, Names: []string{"n"},
		Index: ix(entry("group", "g")), Archived: true, Revision: 1, CreatedAt: past.Add(time.Hour), UpdatedAt: past.Add(time.Hour)}
	other := &store.Object{TenantID: "tenant-b", ID: "z-old", Revision: 2, CreatedAt: past, UpdatedAt: past}
	present, err := im.ImportObjects(ctx, []*store.Object{older, newer, other})
	require.NoError(t, err)
	assert.Equal(t, []*store.Object{nil, nil, nil}, present)
	for _, want := range []*store.Object{older, newer, other} {
		got, err := s.GetObject(ctx, want.TenantID, want.ID)
		require.NoError(t, err)
		assertObject(t, want, got)
	}
	// Ordered by the imported creation times, found by their entries.
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "n"}, "a-new", "z-old")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: ix(entry("group", "g")), Storage: store.StorageOnline}, "z-old")

	// A created object is newer than both.
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "m-created", Names: []string{"n"}}))
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "n"}, "m-created", "a-new", "z-old")

	// Updates go on from the imported revision.
	got, err := s.GetObject(ctx, "tenant-a", "z-old")
	require.NoError(t, err)
	got.State = stateDeactivated
	require.NoError(t, s.UpdateObject(ctx, got))
	assert.Equal(t, uint64(10), got.Revision)

	// Imported again: what is stored comes back, nothing is overwritten.
	fresh := &store.Object{TenantID: "tenant-a", ID: "b-fresh", Revision: 1, CreatedAt: past, UpdatedAt: past}
	present, err = im.ImportObjects(ctx, []*store.Object{older, fresh})
	require.NoError(t, err)
	require.Len(t, present, 2)
	require.NotNil(t, present[0])
	assertObject(t, got, present[0])
	assert.Nil(t, present[1])
	stored, err := s.GetObject(ctx, "tenant-a", "z-old")
	require.NoError(t, err)
	assertObject(t, got, stored)
}
