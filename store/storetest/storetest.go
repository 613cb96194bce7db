package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// KMIP enumeration values used as test data (KMIP 1.4 sections 9.1.3.2.12
// and 9.1.3.2.17).
const (
	typeCertificate  uint32 = 1
	typeSymmetricKey uint32 = 2
	typeSecretData   uint32 = 7
	typeOpaque       uint32 = 8
	// An extension value (high bit set) must survive: a store may not
	// keep uint32 enumerations in a signed 32-bit column.
	typeExtension uint32 = 0x80000001

	statePreActive   uint32 = 1
	stateActive      uint32 = 2
	stateDeactivated uint32 = 3
)

// precision is the coarsest timestamp resolution a store may keep.
const precision = time.Millisecond

// tick separates writes whose timestamps a test compares: at least one
// precision step, whatever the store truncates to.
const tick = 2 * precision

// Run runs the conformance suite. open returns a new, empty store for one
// subtest (use t.TempDir, a fresh schema, ...); Run closes it when the
// subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ObjectRoundTrip", testObjectRoundTrip},
		{"RecordMAC", testRecordMAC}, // mac.go
		{"CreateExists", testCreateExists},
		{"SameIDInTwoTenants", testSameIDInTwoTenants},
		{"NotFound", testNotFound},
		{"Update", testUpdate},
		{"UpdateConflict", testUpdateConflict},
		{"UpdateMovesIndexes", testUpdateMovesIndexes},
		{"Delete", testDelete},
		{"List", testList},
		{"ListMatch", testListMatch},
		{"MatchValues", testMatchValues},
		{"ListFilter", testListFilter},
		{"IDsOnly", testIDsOnly},
		{"Count", testCount},
		{"ListPaging", testListPaging},
		{"Selectivity", testSelectivity},
		{"Tenants", testTenants},
		{"CanceledContext", testCanceledContext},
		{"CloseTwice", testCloseTwice},
		{"Concurrency", testConcurrency},
		{"BinaryText", testBinaryText},
		{"Scanner", testScanner},
		{"Importer", testImporter},
		{"RegistryTenants", testRegistryTenants},
		{"RegistryClients", testRegistryClients},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxErrorsInside", testTxErrorsInside},
		{"TxConcurrent", testTxConcurrent},
		{"Checkpoints", testCheckpoints}, // checkpoint.go
		{"CheckpointsConcurrent", testCheckpointsConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			if _, ok := store.As[store.Transactor](s); !ok && strings.HasPrefix(tc.name, "Tx") {
				return // transactions are optional (store.Transactor)
			}
			tc.fn(t, s)
		})
	}
}

func testObjectRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	material := make([]byte, 4096)
	for i := range material {
		material[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		in   store.Object
	}{
		{"all fields", store.Object{
			TenantID:   "tenant-a",
			ID:         "0d2c1a4e-6d7b-4f8a-9c3e-2b1a0f9e8d7c",
			ObjectType: typeSymmetricKey,
			State:      statePreActive,
			Names:      []string{"disk key", "clé ü 鍵"},
			Attributes: []byte{0x42, 0x00, 0x08, 0x01, 0x00, 0xff, 0x00},
			Material:   material,
			Archived:   true,
			Index: []store.IndexEntry{
				{Key: "Object Group", Value: []byte("group")},
				{Key: "x-Blob", Value: []byte{0, 1, 0, 0xff}},
				{Key: "x-Empty"},
				{Key: "x-Long", Value: material[:1000]},
			},
			// The store sets these: whatever the caller passes is ignored.
			Revision:  7,
			CreatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			UpdatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		}},
		{"only identifiers", store.Object{TenantID: "tenant-a", ID: "minimal"}},
		{"extension enumerations", store.Object{
			TenantID: "tenant-a", ID: "ext", ObjectType: typeExtension, State: 0xffffffff,
			Names: []string{"x"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := clone(&tc.in)
			before := time.Now()
			require.NoError(t, s.CreateObject(ctx, in))
			after := time.Now()

			assert.Equal(t, uint64(1), in.Revision, "Revision after create")
			assertBetween(t, in.CreatedAt, before, after)
			assert.True(t, in.CreatedAt.Equal(in.UpdatedAt), "CreatedAt %v != UpdatedAt %v", in.CreatedAt, in.UpdatedAt)
			want := clone(in)

			// The store must not keep the caller's slices...
			for i := range in.Names {
				in.Names[i] = "changed"
			}
			flip(in.Attributes)
			flip(in.Material)
			for _, e := range in.Index {
				flip(e.Value)
			}

			got, err := s.GetObject(ctx, want.TenantID, want.ID)
			require.NoError(t, err)
			assertObject(t, want, got)

			// ...nor hand out memory that it reads from.
			flip(got.Attributes)
			flip(got.Material)
			for _, e := range got.Index {
				flip(e.Value)
			}
			got, err = s.GetObject(ctx, want.TenantID, want.ID)
			require.NoError(t, err)
			assertObject(t, want, got)
		})
	}
}

func testCreateExists(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey, Material: []byte("first")}
	require.NoError(t, s.CreateObject(ctx, first))

	dup := &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSecretData, Material: []byte("second")}
	err := s.CreateObject(ctx, dup)
	require.ErrorIs(t, err, store.ErrExists)

	got, err := s.GetObject(ctx, "tenant-a", "k1")
	require.NoError(t, err)
	assertObject(t, first, got)
}

func testSameIDInTwoTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := &store.Object{TenantID: "tenant-a", ID: "shared-id", ObjectType: typeSymmetricKey, Names: []string{"n"}, Material: []byte("a")}
	b := &store.Object{TenantID: "tenant-b", ID: "shared-id", ObjectType: typeSecretData, Names: []string{"n"}, Material: []byte("b")}
	require.NoError(t, s.CreateObject(ctx, a))
	require.NoError(t, s.CreateObject(ctx, b), "the same ID in another tenant is another object")

	gotA, err := s.GetObject(ctx, "tenant-a", "shared-id")
	require.NoError(t, err)
	assertObject(t, a, gotA)
	gotB, err := s.GetObject(ctx, "tenant-b", "shared-id")
	require.NoError(t, err)
	assertObject(t, b, gotB)

	// Changing or deleting one leaves the other alone.
	b.State = stateActive
	require.NoError(t, s.UpdateObject(ctx, b))
	require.NoError(t, s.DeleteObject(ctx, "tenant-b", "shared-id"))
	gotA, err = s.GetObject(ctx, "tenant-a", "shared-id")
	require.NoError(t, err)
	assertObject(t, a, gotA)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "n"}, "shared-id")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-b", Name: "n"})
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	own := &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey, Material: []byte("a")}
	require.NoError(t, s.CreateObject(ctx, own))
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-b", ID: "other"}))

	tests := []struct {
		name string
		call func() error
	}{
		{"get missing id", func() error { _, err := s.GetObject(ctx, "tenant-a", "nope"); return err }},
		{"get unknown tenant", func() error { _, err := s.GetObject(ctx, "tenant-z", "k1"); return err }},
		{"get other tenant's object", func() error { _, err := s.GetObject(ctx, "tenant-b", "k1"); return err }},
		{"update missing id", func() error {
			return s.UpdateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "nope", Revision: 1})
		}},
		{"update other tenant's object", func() error {
			return s.UpdateObject(ctx, &store.Object{TenantID: "tenant-b", ID: "k1", Revision: 1, Material: []byte("x")})
		}},
		{"delete missing id", func() error { return s.DeleteObject(ctx, "tenant-a", "nope") }},
		{"delete other tenant's object", func() error { return s.DeleteObject(ctx, "tenant-b", "k1") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), store.ErrNotFound)
		})
	}

	// None of that touched tenant-a's object.
	got, err := s.GetObject(ctx, "tenant-a", "k1")
	require.NoError(t, err)
	assertObject(t, own, got)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-b"}, "other")
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := &store.Object{
		TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey, State: statePreActive,
		Names: []string{"a"}, Attributes: []byte{1}, Material: []byte("sealed"),
	}
	require.NoError(t, s.CreateObject(ctx, o))
	created := clone(o)

	time.Sleep(tick)
	o.State = stateActive
	o.Names = []string{"a", "b"}
	o.Attributes = []byte{1, 2, 3}
	o.Material = nil // destroyed
	o.CreatedAt = time.Time{}
	require.NoError(t, s.UpdateObject(ctx, o))

	assert.Equal(t, uint64(2), o.Revision)
	assert.True(t, o.UpdatedAt.After(created.UpdatedAt), "UpdatedAt %v not after %v", o.UpdatedAt, created.UpdatedAt)
	assert.WithinDuration(t, created.CreatedAt, o.CreatedAt, precision, "CreatedAt must not change")

	got, err := s.GetObject(ctx, "tenant-a", "k1")
	require.NoError(t, err)
	assertObject(t, o, got)

	time.Sleep(tick)
	got.State = stateDeactivated
	require.NoError(t, s.UpdateObject(ctx, got))
	assert.Equal(t, uint64(3), got.Revision)
	assert.True(t, got.UpdatedAt.After(o.UpdatedAt))
}

func testUpdateConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey, State: statePreActive, Material: []byte("v1")}
	require.NoError(t, s.CreateObject(ctx, o))
	stale := clone(o)

	o.State = stateActive
	o.Material = []byte("v2")
	require.NoError(t, s.UpdateObject(ctx, o))

	tests := []struct {
		name     string
		revision uint64
	}{
		{"stale revision", 1},
		{"future revision", 99},
		{"zero revision", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := clone(stale)
			u.Revision = tc.revision
			u.State = stateDeactivated
			u.Material = []byte("lost")
			require.ErrorIs(t, s.UpdateObject(ctx, u), store.ErrConflict)
			assert.Equal(t, tc.revision, u.Revision, "a failed update must not change the caller's Revision")

			got, err := s.GetObject(ctx, "tenant-a", "k1")
			require.NoError(t, err)
			assertObject(t, o, got)
		})
	}
}

// testUpdateMovesIndexes checks that List sees what an update changed
// (indexes kept in step with the record).
func testUpdateMovesIndexes(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := &store.Object{
		TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey, State: statePreActive, Names: []string{"old", "kept"},
		Index: []store.IndexEntry{entry("group", "old"), entry("group", "kept")},
	}
	require.NoError(t, s.CreateObject(ctx, o))
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Storage: store.StorageOnline}, "k1")

	o.State = stateActive
	o.Names = []string{"kept", "new"}
	o.Index = []store.IndexEntry{entry("group", "kept"), entry("group", "new")}
	o.Archived = true
	require.NoError(t, s.UpdateObject(ctx, o))

	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "old")}})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "kept")}}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "new")}}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", States: []uint32{statePreActive}})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", States: []uint32{stateActive}}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Storage: store.StorageOnline})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Storage: store.StorageArchived}, "k1")

	// Dropping every entry drops the object from every entry's index.
	o.Index = nil
	o.Archived = false
	require.NoError(t, s.UpdateObject(ctx, o))
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "kept")}})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Storage: store.StorageOnline}, "k1")

	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "old"})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "kept"}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "new"}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", State: statePreActive})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", State: stateActive}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", ObjectType: typeSymmetricKey, State: stateActive, Name: "new"}, "k1")

	// Names and entries change while type, state and the archived flag
	// stay: the entries that went are gone, the new ones found, the
	// others kept.
	o.Names = []string{"new", "renamed"}
	o.Index = []store.IndexEntry{entry("group", "again"), entry("owner", "ops")}
	require.NoError(t, s.UpdateObject(ctx, o))
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "kept"})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "new"}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "renamed"}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "again"), entry("owner", "ops")}}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", State: stateActive, Storage: store.StorageOnline}, "k1")

	// An update that changes nothing indexed keeps every entry.
	o.Attributes = []byte("another record, the same entries")
	require.NoError(t, s.UpdateObject(ctx, o))
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", ObjectType: typeSymmetricKey, State: stateActive, Name: "renamed",
		Match: []store.IndexEntry{entry("group", "again")}}, "k1")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Storage: store.StorageOnline}, "k1")
	n, err := s.CountObjects(ctx, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("owner", "ops")}})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey, State: stateActive, Names: []string{"n"}, Index: []store.IndexEntry{entry("group", "g")}}
	require.NoError(t, s.CreateObject(ctx, o))
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "k2", ObjectType: typeSymmetricKey}))

	require.NoError(t, s.DeleteObject(ctx, "tenant-a", "k1"))
	_, err := s.GetObject(ctx, "tenant-a", "k1")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteObject(ctx, "tenant-a", "k1"), store.ErrNotFound)
	require.ErrorIs(t, s.UpdateObject(ctx, o), store.ErrNotFound)

	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a"}, "k2")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "n"})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", ObjectType: typeSymmetricKey}, "k2")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "g")}})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", State: stateActive})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", ID: "k1"})

	// The ID is free again.
	again := &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSecretData}
	require.NoError(t, s.CreateObject(ctx, again))
	assert.Equal(t, uint64(1), again.Revision)
}

// listFixture creates objects one tick apart, so that creation order is
// CreatedAt order at any precision the suite allows. IDs are not in
// creation order: List must sort by time, not by ID.
func listFixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	g1, g2 := entry("group", "g1"), entry("group", "g2")
	aes, rsa := entry("alg", "AES"), entry("alg", "RSA")
	fixture := []store.Object{
		{TenantID: "tenant-a", ID: "k05", ObjectType: typeSymmetricKey, State: statePreActive, Names: []string{"alpha"}, Index: ix(g1, aes)},
		{TenantID: "tenant-a", ID: "k03", ObjectType: typeSymmetricKey, State: stateActive, Names: []string{"alpha", "beta"}, Index: ix(g1, g2, aes)},
		{TenantID: "tenant-a", ID: "k09", ObjectType: typeSecretData, State: stateActive, Names: []string{"beta"}, Index: ix(g2)},
		{TenantID: "tenant-a", ID: "k01", ObjectType: typeSymmetricKey, State: stateActive, Index: ix(aes), Archived: true},
		{TenantID: "tenant-b", ID: "k06", ObjectType: typeSymmetricKey, State: stateActive, Names: []string{"alpha"}, Index: ix(g1, aes)},
		{TenantID: "tenant-a", ID: "k07", ObjectType: typeSecretData, State: statePreActive, Names: []string{"alpha"}, Index: ix(g1, rsa)},
		{TenantID: "tenant-a", ID: "k02", ObjectType: typeOpaque, State: stateActive, Names: []string{"gamma"}, Index: ix(g1)},
		{TenantID: "tenant-b", ID: "k05", ObjectType: typeSymmetricKey, State: statePreActive, Names: []string{"alpha"}, Index: ix(g1)},
		{TenantID: "tenant-a", ID: "k08", ObjectType: typeSymmetricKey, State: stateDeactivated, Names: []string{"alpha"}, Index: ix(g1, aes), Archived: true},
		{TenantID: "tenant-a", ID: "k04", ObjectType: typeSecretData, State: stateActive, Names: []string{"alpha"}, Index: ix(g1, aes, aes)},
	}
	for i := range fixture {
		if i > 0 {
			time.Sleep(tick)
		}
		require.NoError(t, s.CreateObject(ctx, &fixture[i]))
	}
}

func testList(t *testing.T, s store.Store) {
	listFixture(t, s)
	tests := []struct {
		name string
		q    store.ListQuery
		want []string
	}{
		{"tenant only, newest first", store.ListQuery{TenantID: "tenant-a"},
			[]string{"k04", "k08", "k02", "k07", "k01", "k09", "k03", "k05"}},
		{"other tenant", store.ListQuery{TenantID: "tenant-b"}, []string{"k05", "k06"}},
		{"unknown tenant", store.ListQuery{TenantID: "tenant-z"}, nil},
		{"object type", store.ListQuery{TenantID: "tenant-a", ObjectType: typeSymmetricKey},
			[]string{"k08", "k01", "k03", "k05"}},
		{"object type with no objects", store.ListQuery{TenantID: "tenant-a", ObjectType: typeCertificate}, nil},
		{"state", store.ListQuery{TenantID: "tenant-a", State: stateActive},
			[]string{"k04", "k02", "k01", "k09", "k03"}},
		{"name", store.ListQuery{TenantID: "tenant-a", Name: "alpha"},
			[]string{"k04", "k08", "k07", "k03", "k05"}},
		{"second name", store.ListQuery{TenantID: "tenant-a", Name: "beta"}, []string{"k09", "k03"}},
		{"name is exact, not a prefix", store.ListQuery{TenantID: "tenant-a", Name: "alph"}, nil},
		{"name of another tenant's object", store.ListQuery{TenantID: "tenant-b", Name: "gamma"}, nil},
		{"name and type", store.ListQuery{TenantID: "tenant-a", Name: "alpha", ObjectType: typeSymmetricKey},
			[]string{"k08", "k03", "k05"}},
		{"name and state", store.ListQuery{TenantID: "tenant-a", Name: "alpha", State: statePreActive},
			[]string{"k07", "k05"}},
		{"type and state", store.ListQuery{TenantID: "tenant-a", ObjectType: typeSymmetricKey, State: stateActive},
			[]string{"k01", "k03"}},
		{"all filters", store.ListQuery{TenantID: "tenant-a", Name: "alpha", ObjectType: typeSecretData, State: stateActive},
			[]string{"k04"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertIDs(t, s, tc.q, tc.want...)
		})
	}
}

func testListPaging(t *testing.T, s store.Store) {
	listFixture(t, s)
	ctx := context.Background()
	queries := []struct {
		name string
		q    store.ListQuery
	}{
		{"tenant", store.ListQuery{TenantID: "tenant-a"}},
		{"name", store.ListQuery{TenantID: "tenant-a", Name: "alpha"}},
		{"type", store.ListQuery{TenantID: "tenant-a", ObjectType: typeSymmetricKey}},
		{"state", store.ListQuery{TenantID: "tenant-a", State: stateActive}},
		{"match", store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "g1")}}},
		{"match and type", store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("alg", "AES")}, ObjectType: typeSymmetricKey}},
		{"states", store.ListQuery{TenantID: "tenant-a", States: []uint32{stateActive, statePreActive}}},
		{"online", store.ListQuery{TenantID: "tenant-a", Storage: store.StorageOnline}},
		{"filter", store.ListQuery{TenantID: "tenant-a", Filter: func(o *store.Object) bool { return len(o.Names) == 1 }}},
		{"ids only", store.ListQuery{TenantID: "tenant-a", IDsOnly: true, Match: []store.IndexEntry{entry("group", "g1")}}},
	}
	for _, qc := range queries {
		q := qc.q
		all := listIDs(t, s, q)
		require.GreaterOrEqual(t, len(all), 3, "fixture objects for %s", qc.name)
		n := len(all)
		tests := []struct {
			offset, limit int
			want          []string
		}{
			{0, 0, all},
			{0, 1, all[:1]},
			{0, 3, all[:min(3, n)]},
			{1, 2, all[1:min(3, n)]},
			{2, 0, all[2:]},
			{n - 1, 5, all[n-1:]},
			{n, 0, nil},
			{n + 10, 3, nil},
			{0, n + 10, all},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/offset=%d,limit=%d", qc.name, tc.offset, tc.limit), func(t *testing.T) {
				p := q
				p.Offset, p.Limit = tc.offset, tc.limit
				assertIDs(t, s, p, tc.want...)
			})
		}

		// Walking page by page visits every object once, in order.
		for limit := 1; limit <= n; limit++ {
			var walked []string
			for offset := 0; ; offset += limit {
				p := q
				p.Offset, p.Limit = offset, limit
				page, err := s.ListObjects(ctx, p)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), limit)
				if len(page) == 0 {
					break
				}
				for _, o := range page {
					walked = append(walked, o.ID)
				}
			}
			assert.Equal(t, all, walked, "%+v pages of %d", q, limit)
		}
	}
}

func testTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetTenant(ctx, "tenant-a")
	require.ErrorIs(t, err, store.ErrNotFound)

	in := &store.Tenant{ID: "tenant-a", Backend: "pkcs11", KeyBlob: []byte{0, 1, 2, 0xff}}
	before := time.Now()
	require.NoError(t, s.PutTenant(ctx, in))
	after := time.Now()
	assert.Equal(t, uint64(1), in.Revision)
	assertBetween(t, in.CreatedAt, before, after)
	assert.True(t, in.CreatedAt.Equal(in.UpdatedAt))

	got, err := s.GetTenant(ctx, "tenant-a")
	require.NoError(t, err)
	assertTenant(t, in, got)

	// Creating it again (Revision 0) is ErrExists and changes nothing.
	require.ErrorIs(t, s.PutTenant(ctx, &store.Tenant{ID: "tenant-a", Backend: "hpcs"}), store.ErrExists)
	got, err = s.GetTenant(ctx, "tenant-a")
	require.NoError(t, err)
	assertTenant(t, in, got)

	// Update with the right revision.
	stale := *in
	time.Sleep(tick)
	in.KeyBlob = []byte("rewrapped")
	require.NoError(t, s.PutTenant(ctx, in))
	assert.Equal(t, uint64(2), in.Revision)
	assert.True(t, in.UpdatedAt.After(stale.UpdatedAt), "UpdatedAt %v not after %v", in.UpdatedAt, stale.UpdatedAt)
	assert.WithinDuration(t, stale.CreatedAt, in.CreatedAt, precision)
	got, err = s.GetTenant(ctx, "tenant-a")
	require.NoError(t, err)
	assertTenant(t, in, got)

	// A stale revision is a conflict and changes nothing.
	stale.KeyBlob = []byte("lost")
	require.ErrorIs(t, s.PutTenant(ctx, &stale), store.ErrConflict)
	assert.Equal(t, uint64(1), stale.Revision)
	got, err = s.GetTenant(ctx, "tenant-a")
	require.NoError(t, err)
	assertTenant(t, in, got)

	// Updating a tenant that does not exist is ErrNotFound.
	require.ErrorIs(t, s.PutTenant(ctx, &store.Tenant{ID: "tenant-z", Revision: 1}), store.ErrNotFound)
	_, err = s.GetTenant(ctx, "tenant-z")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testCanceledContext(t *testing.T, s store.Store) {
	bg := context.Background()
	require.NoError(t, s.CreateObject(bg, &store.Object{TenantID: "tenant-a", ID: "k1", ObjectType: typeSymmetricKey}))
	ctx, cancel := context.WithCancel(bg)
	cancel()

	tests := []struct {
		name string
		call func() error
	}{
		{"CreateObject", func() error {
			return s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "k2"})
		}},
		{"GetObject", func() error { _, err := s.GetObject(ctx, "tenant-a", "k1"); return err }},
		{"UpdateObject", func() error {
			return s.UpdateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "k1", Revision: 1, State: stateActive})
		}},
		{"DeleteObject", func() error { return s.DeleteObject(ctx, "tenant-a", "k1") }},
		{"ListObjects", func() error { _, err := s.ListObjects(ctx, store.ListQuery{TenantID: "tenant-a"}); return err }},
		{"CountObjects", func() error { _, err := s.CountObjects(ctx, store.ListQuery{TenantID: "tenant-a"}); return err }},
		{"GetTenant", func() error { _, err := s.GetTenant(ctx, "tenant-a"); return err }},
		{"PutTenant", func() error { return s.PutTenant(ctx, &store.Tenant{ID: "tenant-a"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.call(), context.Canceled)
		})
	}

	// Nothing was written.
	got, err := s.GetObject(bg, "tenant-a", "k1")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), got.Revision)
	assert.Equal(t, uint32(0), got.State)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a"}, "k1")
	_, err = s.GetTenant(bg, "tenant-a")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testCloseTwice(t *testing.T, s store.Store) {
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close must be safe")
	_, err := s.GetObject(context.Background(), "tenant-a", "k1")
	require.Error(t, err, "a closed store must refuse work")
}

// testConcurrency runs creators, read-modify-write updaters and readers at
// the same time. Each updater retries on ErrConflict; no successful update
// may be lost, which the names appended by every update prove. Readers
// must never see an index entry without its record (or the reverse).
func testConcurrency(t *testing.T, s store.Store) {
	const (
		workers     = 16
		perWorker   = 4
		maxAttempts = 10000
	)
	ctx := context.Background()
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: "shared", ObjectType: typeSymmetricKey}))

	var wg sync.WaitGroup
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				objs, err := s.ListObjects(ctx, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "updated")}})
				if !assert.NoError(t, err) {
					return
				}
				for _, o := range objs {
					assert.Contains(t, o.Index, entry("group", "updated"), "record of %s without the entry it was found by", o.ID)
				}
			}
		})
	}
	for g := range workers {
		wg.Go(func() {
			for i := range perWorker {
				o := &store.Object{
					TenantID: "tenant-a", ID: fmt.Sprintf("c%02d-%d", g, i), ObjectType: typeSecretData, Names: []string{"created"},
					Index: []store.IndexEntry{entry("group", "created")},
				}
				if !assert.NoError(t, s.CreateObject(ctx, o)) {
					return
				}
			}
		})
		wg.Go(func() {
			for i := range perWorker {
				mark := fmt.Sprintf("u%02d-%d", g, i)
				for attempt := 0; ; attempt++ {
					if attempt == maxAttempts {
						assert.Fail(t, "update never succeeded", mark)
						return
					}
					o, err := s.GetObject(ctx, "tenant-a", "shared")
					if !assert.NoError(t, err) {
						return
					}
					o.Names = append(o.Names, mark)
					o.Index = []store.IndexEntry{entry("group", "updated"), entry("mark", mark)}
					err = s.UpdateObject(ctx, o)
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()

	var wantNames, wantIDs []string
	for g := range workers {
		for i := range perWorker {
			wantNames = append(wantNames, fmt.Sprintf("u%02d-%d", g, i))
			wantIDs = append(wantIDs, fmt.Sprintf("c%02d-%d", g, i))
		}
	}
	got, err := s.GetObject(ctx, "tenant-a", "shared")
	require.NoError(t, err)
	assert.Equal(t, uint64(1+workers*perWorker), got.Revision)
	assert.ElementsMatch(t, wantNames, got.Names)
	assert.ElementsMatch(t, wantIDs, listIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "created"}))
	assert.ElementsMatch(t, wantIDs, listIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "created")}}))
	// Only the last update's mark is indexed.
	for _, mark := range wantNames {
		q := store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{entry("mark", mark)}}
		if slices.ContainsFunc(got.Index, func(e store.IndexEntry) bool { return e.Key == "mark" && string(e.Value) == mark }) {
			assertIDs(t, s, q, "shared")
		} else {
			assertIDs(t, s, q)
		}
	}
}

// Helpers.

func clone(o *store.Object) *store.Object {
	c := *o
	c.Names = slices.Clone(o.Names)
	c.Attributes = slices.Clone(o.Attributes)
	c.Material = slices.Clone(o.Material)
	c.Index = make([]store.IndexEntry, len(o.Index))
	for i, e := range o.Index {
		c.Index[i] = store.IndexEntry{Key: e.Key, Value: slices.Clone(e.Value)}
	}
	return &c
}

func entry(key, value string) store.IndexEntry {
	return store.IndexEntry{Key: key, Value: []byte(value)}
}

func ix(entries ...store.IndexEntry) []store.IndexEntry { return entries }

func flip(b []byte) {
	for i := range b {
		b[i] ^= 0xff
	}
}

// assertObject compares every field. Empty and nil slices are the same
// (a store may not tell them apart); times match to the suite's precision.
func assertObject(t *testing.T, want, got *store.Object) {
	t.Helper()
	require.NotNil(t, got)
	assert.Equal(t, want.TenantID, got.TenantID, "TenantID")
	assert.Equal(t, want.ID, got.ID, "ID")
	assert.Equal(t, want.ObjectType, got.ObjectType, "ObjectType")
	assert.Equal(t, want.State, got.State, "State")
	assertSlice(t, want.Names, got.Names, "Names")
	assertSlice(t, want.Attributes, got.Attributes, "Attributes")
	assertSlice(t, want.Material, got.Material, "Material")
	assert.Equal(t, want.Archived, got.Archived, "Archived")
	assertEntries(t, want.Index, got.Index)
	assert.Equal(t, want.Revision, got.Revision, "Revision")
	assert.WithinDuration(t, want.CreatedAt, got.CreatedAt, precision, "CreatedAt")
	assert.WithinDuration(t, want.UpdatedAt, got.UpdatedAt, precision, "UpdatedAt")
}

// assertEntries compares index entries as a set of (key, value) pairs with
// empty and nil values the same.
func assertEntries(t *testing.T, want, got []store.IndexEntry) {
	t.Helper()
	norm := func(es []store.IndexEntry) []string {
		out := make([]string, 0, len(es))
		for _, e := range es {
			out = append(out, fmt.Sprintf("%q=%x", e.Key, e.Value))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	assert.Equal(t, norm(want), norm(got), "Index")
}

func assertTenant(t *testing.T, want, got *store.Tenant) {
	t.Helper()
	require.NotNil(t, got)
	assert.Equal(t, want.ID, got.ID, "ID")
	assert.Equal(t, want.Backend, got.Backend, "Backend")
	assertSlice(t, want.KeyBlob, got.KeyBlob, "KeyBlob")
	assert.Equal(t, want.TenantSettings, got.TenantSettings, "TenantSettings")
	assert.Equal(t, want.Revision, got.Revision, "Revision")
	assert.WithinDuration(t, want.CreatedAt, got.CreatedAt, precision, "CreatedAt")
	assert.WithinDuration(t, want.UpdatedAt, got.UpdatedAt, precision, "UpdatedAt")
}

func assertSlice[S ~[]E, E any](t *testing.T, want, got S, field string) {
	t.Helper()
	if len(want) == 0 {
		assert.Empty(t, got, field)
		return
	}
	assert.Equal(t, want, got, field)
}

// assertBetween checks a timestamp the store set during a call made between
// before and after, allowing for the store's truncation.
func assertBetween(t *testing.T, ts, before, after time.Time) {
	t.Helper()
	assert.False(t, ts.Before(before.Add(-precision)), "timestamp %v before the call (%v)", ts, before)
	assert.False(t, ts.After(after.Add(precision)), "timestamp %v after the call (%v)", ts, after)
}

func listIDs(t *testing.T, s store.Store, q store.ListQuery) []string {
	t.Helper()
	objs, err := s.ListObjects(context.Background(), q)
	require.NoError(t, err)
	var ids []string
	for _, o := range objs {
		require.NotNil(t, o)
		assert.Equal(t, q.TenantID, o.TenantID, "object %s from another tenant", o.ID)
		ids = append(ids, o.ID)
	}
	return ids
}

func assertIDs(t *testing.T, s store.Store, q store.ListQuery, want ...string) {
	t.Helper()
	got := listIDs(t, s, q)
	if len(want) == 0 {
		assert.Empty(t, got, "%+v", q)
		return
	}
	assert.Equal(t, want, got, "%+v", q)
}
