package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// testListMatch covers the filters that came with Locate: Match (index
// entries, AND), States, NotStates, Storage and ID, alone and combined
// with the older ones. See listFixture for the data.
func testListMatch(t *testing.T, s store.Store) {
	listFixture(t, s)
	g1, g2, g3 := entry("group", "g1"), entry("group", "g2"), entry("group", "g3")
	aes := entry("alg", "AES")
	m := func(es ...store.IndexEntry) []store.IndexEntry { return es }
	tests := []struct {
		name string
		q    store.ListQuery
		want []string
	}{
		{"entry", store.ListQuery{TenantID: "tenant-a", Match: m(g1)},
			[]string{"k04", "k08", "k02", "k07", "k03", "k05"}},
		{"entry of another tenant", store.ListQuery{TenantID: "tenant-b", Match: m(g1)}, []string{"k05", "k06"}},
		{"two entries are AND", store.ListQuery{TenantID: "tenant-a", Match: m(g1, aes)},
			[]string{"k04", "k08", "k03", "k05"}},
		{"two values of one key are AND", store.ListQuery{TenantID: "tenant-a", Match: m(g1, g2)}, []string{"k03"}},
		{"same entry twice", store.ListQuery{TenantID: "tenant-a", Match: m(g2, g2)}, []string{"k09", "k03"}},
		{"unknown value", store.ListQuery{TenantID: "tenant-a", Match: m(g3)}, nil},
		{"value is exact, not a prefix", store.ListQuery{TenantID: "tenant-a", Match: m(entry("group", "g"))}, nil},
		{"key is exact", store.ListQuery{TenantID: "tenant-a", Match: m(entry("grou", "g1"))}, nil},
		{"key and value do not run together", store.ListQuery{TenantID: "tenant-a", Match: m(entry("groupg", "1"))}, nil},
		{"entry and unknown entry", store.ListQuery{TenantID: "tenant-a", Match: m(g1, g3)}, nil},
		{"entry and type", store.ListQuery{TenantID: "tenant-a", Match: m(g1), ObjectType: typeSymmetricKey},
			[]string{"k08", "k03", "k05"}},
		{"entry and name", store.ListQuery{TenantID: "tenant-a", Match: m(g2), Name: "beta"}, []string{"k09", "k03"}},
		{"entry and state", store.ListQuery{TenantID: "tenant-a", Match: m(aes), State: stateActive},
			[]string{"k04", "k01", "k03"}},
		{"states", store.ListQuery{TenantID: "tenant-a", States: []uint32{statePreActive, stateDeactivated}},
			[]string{"k08", "k07", "k05"}},
		{"states and state", store.ListQuery{TenantID: "tenant-a", States: []uint32{stateActive, statePreActive}, State: statePreActive},
			[]string{"k07", "k05"}},
		{"states disjoint from state", store.ListQuery{TenantID: "tenant-a", States: []uint32{statePreActive}, State: stateActive}, nil},
		{"states with no objects", store.ListQuery{TenantID: "tenant-a", States: []uint32{7}}, nil},
		{"not states", store.ListQuery{TenantID: "tenant-a", NotStates: []uint32{stateActive}},
			[]string{"k08", "k07", "k05"}},
		{"states and not states", store.ListQuery{TenantID: "tenant-a", States: []uint32{stateActive, statePreActive}, NotStates: []uint32{stateActive}},
			[]string{"k07", "k05"}},
		{"states and entry", store.ListQuery{TenantID: "tenant-a", States: []uint32{statePreActive, stateDeactivated}, Match: m(aes)},
			[]string{"k08", "k05"}},
		{"online", store.ListQuery{TenantID: "tenant-a", Storage: store.StorageOnline},
			[]string{"k04", "k02", "k07", "k09", "k03", "k05"}},
		{"archived", store.ListQuery{TenantID: "tenant-a", Storage: store.StorageArchived}, []string{"k08", "k01"}},
		{"archived and entry", store.ListQuery{TenantID: "tenant-a", Storage: store.StorageArchived, Match: m(g1)}, []string{"k08"}},
		{"id", store.ListQuery{TenantID: "tenant-a", ID: "k03"}, []string{"k03"}},
		{"id and matching filters", store.ListQuery{TenantID: "tenant-a", ID: "k03", Match: m(g2), Name: "alpha", States: []uint32{stateActive}},
			[]string{"k03"}},
		{"id and another type", store.ListQuery{TenantID: "tenant-a", ID: "k03", ObjectType: typeSecretData}, nil},
		{"id and missing entry", store.ListQuery{TenantID: "tenant-a", ID: "k05", Match: m(g2)}, nil},
		{"id of an archived object, online only", store.ListQuery{TenantID: "tenant-a", ID: "k01", Storage: store.StorageOnline}, nil},
		{"unknown id", store.ListQuery{TenantID: "tenant-a", ID: "nope"}, nil},
		{"id of another tenant's object", store.ListQuery{TenantID: "tenant-a", ID: "k06"}, nil},
		{"id in the other tenant", store.ListQuery{TenantID: "tenant-b", ID: "k05"}, []string{"k05"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertIDs(t, s, tc.q, tc.want...)
			n, err := s.CountObjects(context.Background(), tc.q)
			require.NoError(t, err)
			assert.Equal(t, len(tc.want), n, "CountObjects")
		})
	}
}

// testMatchValues checks that entry values compare byte for byte whatever
// they hold: zero bytes, a value that is a prefix of another, the empty
// value, and values long enough for a store to keep only a digest of them.
func testMatchValues(t *testing.T, s store.Store) {
	ctx := context.Background()
	long := bytes.Repeat([]byte{0x5a}, 4000)
	longOther := bytes.Clone(long)
	longOther[len(longOther)-1] = 0
	longKey := string(bytes.Repeat([]byte("k"), 600))
	values := []struct {
		id    string
		entry store.IndexEntry
	}{
		{"zero", store.IndexEntry{Key: "x-Blob", Value: []byte{0, 0, 1}}},
		{"prefix", store.IndexEntry{Key: "x-Blob", Value: []byte{0, 0}}},
		{"empty", store.IndexEntry{Key: "x-Blob"}},
		{"long", store.IndexEntry{Key: "x-Blob", Value: long}},
		{"long-other", store.IndexEntry{Key: "x-Blob", Value: longOther}},
		{"long-key", store.IndexEntry{Key: longKey, Value: []byte{1}}},
		{"int", store.IndexEntry{Key: "x-Int", Value: []byte{0x42, 0, 0x0b, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 0}}},
	}
	for _, v := range values {
		require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-a", ID: v.id, Index: []store.IndexEntry{v.entry}}))
	}
	for _, v := range values {
		t.Run(v.id, func(t *testing.T) {
			q := store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{{Key: v.entry.Key, Value: bytes.Clone(v.entry.Value)}}}
			assertIDs(t, s, q, v.id)
		})
	}
	// The same bytes under another key, and a value that is nearly equal.
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{{Key: "x-Other", Value: []byte{0, 0, 1}}}})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{{Key: "x-Blob", Value: long[:len(long)-1]}}})
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{{Key: longKey[1:], Value: []byte{1}}}})
	// Values given as nil and as empty are the same.
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Match: []store.IndexEntry{{Key: "x-Blob", Value: []byte{}}}}, "empty")
}

// testListFilter checks Filter: it sees whole records, it applies before
// Offset and Limit, and what it does to its argument does not leak.
func testListFilter(t *testing.T, s store.Store) {
	listFixture(t, s)
	ctx := context.Background()
	oneName := func(o *store.Object) bool { return len(o.Names) == 1 }
	all := []string{"k04", "k08", "k02", "k07", "k09", "k05"}
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Filter: oneName}, all...)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Filter: oneName, Offset: 2, Limit: 3}, all[2:5]...)
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Filter: oneName, Match: []store.IndexEntry{entry("group", "g2")}}, "k09")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Filter: func(*store.Object) bool { return false }})

	var seen []string
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "beta", Filter: func(o *store.Object) bool {
		assert.Equal(t, "tenant-a", o.TenantID)
		assert.NotEmpty(t, o.Index, "the filter sees the whole record")
		seen = append(seen, o.ID)
		o.Names = nil
		o.Index = nil
		return true
	}}, "k09", "k03")
	assert.Equal(t, []string{"k09", "k03"}, seen, "the filter runs only on candidates that pass the other filters")

	got, err := s.ListObjects(ctx, store.ListQuery{TenantID: "tenant-a", ID: "k03", Filter: func(o *store.Object) bool {
		o.Names[0] = "changed"
		return true
	}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"alpha", "beta"}, got[0].Names, "a filter's changes stay out of the results")
	assertIDs(t, s, store.ListQuery{TenantID: "tenant-a", Name: "alpha", ID: "k03"}, "k03")

	n, err := s.CountObjects(ctx, store.ListQuery{TenantID: "tenant-a", Filter: oneName, Offset: 1, Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, len(all), n)
}

// testIDsOnly checks that IDsOnly lists the same objects as a full query.
func testIDsOnly(t *testing.T, s store.Store) {
	listFixture(t, s)
	for _, q := range []store.ListQuery{
		{TenantID: "tenant-a"},
		{TenantID: "tenant-a", Match: []store.IndexEntry{entry("group", "g1")}, Storage: store.StorageOnline},
		{TenantID: "tenant-a", Name: "alpha", Offset: 1, Limit: 2},
		{TenantID: "tenant-a", Filter: func(o *store.Object) bool { return len(o.Names) == 1 }},
		{TenantID: "tenant-z"},
	} {
		full := listIDs(t, s, q)
		q.IDsOnly = true
		assert.Equal(t, full, listIDs(t, s, q), "%+v", q)
	}
}

// testCount checks that CountObjects agrees with ListObjects and ignores
// Offset and Limit.
func testCount(t *testing.T, s store.Store) {
	listFixture(t, s)
	ctx := context.Background()
	for _, q := range []store.ListQuery{
		{TenantID: "tenant-a"},
		{TenantID: "tenant-b"},
		{TenantID: "tenant-z"},
		{TenantID: "tenant-a", Name: "alpha", ObjectType: typeSymmetricKey},
		{TenantID: "tenant-a", Match: []store.IndexEntry{entry("alg", "AES")}, NotStates: []uint32{stateDeactivated}},
		{TenantID: "tenant-a", Storage: store.StorageArchived},
		{TenantID: "tenant-a", State: stateActive, Offset: 2, Limit: 1},
		{TenantID: "tenant-a", ID: "k07", Limit: 5},
	} {
		all := q
		all.Offset, all.Limit = 0, 0
		n, err := s.CountObjects(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, len(listIDs(t, s, all)), n, "%+v", q)
	}
	_, err := s.CountObjects(ctx, store.ListQuery{})
	require.Error(t, err, "a count needs a tenant")
}

// testSelectivity combines a filter that many objects pass with one that
// few pass, in both orders, so that a store that starts from the most
// selective index (or from any) gives the same answer, in order.
func testSelectivity(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 300
	var rare []string
	for i := range n {
		o := &store.Object{
			TenantID: "tenant-a", ID: fmt.Sprintf("o%03d", i), ObjectType: typeSymmetricKey, State: stateActive,
			Names: []string{"common"}, Index: []store.IndexEntry{entry("group", "big")},
		}
		if i%50 == 7 {
			o.Index = append(o.Index, entry("group", "small"))
			o.Names = append(o.Names, "rare")
			rare = append([]string{o.ID}, rare...) // newest first
		}
		require.NoError(t, s.CreateObject(ctx, o))
	}
	// Same-time creations are ordered by ID descending, as IDs increase
	// with creation here: newest first either way.
	big, small := entry("group", "big"), entry("group", "small")
	for _, q := range []store.ListQuery{
		{TenantID: "tenant-a", Match: []store.IndexEntry{big, small}},
		{TenantID: "tenant-a", Match: []store.IndexEntry{small, big}},
		{TenantID: "tenant-a", Name: "common", Match: []store.IndexEntry{small}},
		{TenantID: "tenant-a", Name: "rare", Match: []store.IndexEntry{big}, ObjectType: typeSymmetricKey},
		{TenantID: "tenant-a", States: []uint32{stateActive, statePreActive}, Name: "rare"},
	} {
		assertIDs(t, s, q, rare...)
		q.Offset, q.Limit = 1, 2
		assertIDs(t, s, q, rare[1:3]...)
	}
}
