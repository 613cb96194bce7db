package postgres

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// scaleEnv sets how many objects TestLocateAtScale loads (it is skipped
// without it): KMIP_PG_SCALE=1000000 go test -run TestLocateAtScale -v
// -timeout 30m ./store/postgres/
const scaleEnv = "KMIP_PG_SCALE"

// TestLocateAtScale loads one tenant with many objects (with COPY, in the
// layout the store writes) and times the Locate shapes clients send: by
// name, by a rare and a common attribute value, by type and state, pages
// of the newest, counts. Each must stay fast however large the tenant is,
// except where the answer itself is large.
func TestLocateAtScale(t *testing.T) {
	v := os.Getenv(scaleEnv)
	if v == "" {
		t.Skipf("set %s=N to load N objects and time Locate", scaleEnv)
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err)
	ctx := context.Background()
	dsn := freshDSN(t, server(t))
	s := open(t, dsn)

	const (
		tenant    = "big"
		groups    = 100
		symmetric = 2
		secret    = 7
		preActive = 1
		active    = 2
		deact     = 3
	)
	entry := func(k, v string) store.IndexEntry { return store.IndexEntry{Key: k, Value: []byte(v)} }
	start := time.Now()
	base := time.Now().Add(-time.Duration(n) * time.Millisecond).UTC().Truncate(time.Microsecond)
	const chunk = 50000
	for from := 0; from < n; from += chunk {
		var objRows, termRows [][]any
		for i := from; i < min(from+chunk, n); i++ {
			o := &store.Object{
				TenantID: tenant, ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
				ObjectType: symmetric, State: active, Names: []string{fmt.Sprintf("key-%08d", i)},
				Attributes: make([]byte, 600), Material: make([]byte, 60), Revision: 1,
				CreatedAt: base.Add(time.Duration(i) * time.Millisecond),
			}
			o.UpdatedAt = o.CreatedAt
			switch {
			case i%10 == 9:
				o.ObjectType = secret
			case i%20 == 3:
				o.State = preActive
			case i%20 == 7:
				o.State = deact
			}
			o.Index = []store.IndexEntry{entry("Object Group", fmt.Sprintf("g%02d", i%groups))}
			if i%2 == 0 {
				o.Index = append(o.Index, entry("x-Vendor", "VMware, Inc."))
			}
			if i%(n/10+1) == 5 {
				o.Index = append(o.Index, entry("Object Group", "rare"))
			}
			objRows = append(objRows, toRow(o).values())
			for _, term := range terms(o) {
				termRows = append(termRows, []any{tenant, o.ID, term, o.CreatedAt, int64(o.ObjectType), int64(o.State), o.Archived})
			}
		}
		_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"kmip_objects"}, strings.Split(columns, ", "), pgx.CopyFromRows(objRows))
		require.NoError(t, err)
		_, err = s.pool.CopyFrom(ctx, pgx.Identifier{"kmip_terms"}, []string{"tenant_id", "object_id", "term", "created_at", "object_type", "state", "archived"}, pgx.CopyFromRows(termRows))
		require.NoError(t, err)
	}
	// What autovacuum does in time: statistics, and the visibility map
	// that lets index-only scans skip the table.
	_, err = s.pool.Exec(ctx, "VACUUM ANALYZE")
	require.NoError(t, err)
	t.Logf("loaded %d objects in %s", n, time.Since(start).Round(time.Second))

	g := func(name string) store.IndexEntry { return entry("Object Group", name) }
	queries := []struct {
		name string
		q    store.ListQuery
		want int  // -1: do not check
		fast bool // must answer within the bound, whatever n
	}{
		{"name (1 hit)", store.ListQuery{Name: fmt.Sprintf("key-%08d", n/2)}, 1, true},
		{"id", store.ListQuery{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", n/3)}, 1, true},
		{"rare group (10 hits)", store.ListQuery{Match: []store.IndexEntry{g("rare")}}, -1, true},
		{"rare group and vendor", store.ListQuery{Match: []store.IndexEntry{entry("x-Vendor", "VMware, Inc."), g("rare")}}, -1, true},
		{"group, first 10", store.ListQuery{Match: []store.IndexEntry{g("g07")}, Limit: 10}, 10, true},
		{"group and secret data, first 10", store.ListQuery{Match: []store.IndexEntry{g("g09")}, ObjectType: secret, Limit: 10}, 10, true},
		{"group and pre-active, first 10", store.ListQuery{Match: []store.IndexEntry{g("g03")}, State: preActive, Limit: 10}, 10, true},
		{"active symmetric keys, first 1", store.ListQuery{ObjectType: symmetric, State: active, Limit: 1}, 1, true},
		{"newest 10", store.ListQuery{Limit: 10}, 10, true},
		{"newest 10 online, IDs only", store.ListQuery{Limit: 10, Storage: store.StorageOnline, IDsOnly: true}, 10, true},
		{"page 1000 of the newest", store.ListQuery{Limit: 10, Offset: 10000}, 10, false},
		{"pre-active or deactivated in a group, first 100", store.ListQuery{States: []uint32{preActive, deact}, Match: []store.IndexEntry{g("g03")}, Limit: 100}, -1, true},
		{"vendor (half the tenant) and group, first 10", store.ListQuery{Match: []store.IndexEntry{entry("x-Vendor", "VMware, Inc."), g("g08")}, Limit: 10}, 10, true},
		{"vendor and deactivated (no hit), first 10", store.ListQuery{Match: []store.IndexEntry{entry("x-Vendor", "VMware, Inc.")}, State: deact, Limit: 10}, 0, false},
		{"group and pre-active (no hit)", store.ListQuery{Match: []store.IndexEntry{g("g07")}, State: preActive}, 0, true},
		{"whole group (1% of the tenant)", store.ListQuery{Match: []store.IndexEntry{g("g42")}, IDsOnly: true}, n / groups, false},
	}
	const bound = 250 * time.Millisecond
	for _, tc := range queries {
		tc.q.TenantID = tenant
		var times []time.Duration
		var got int
		for range 5 {
			t0 := time.Now()
			objs, err := s.ListObjects(ctx, tc.q)
			times = append(times, time.Since(t0))
			require.NoError(t, err, tc.name)
			got = len(objs)
		}
		slices.Sort(times)
		t0 := time.Now()
		count, err := s.CountObjects(ctx, store.ListQuery{TenantID: tenant, Match: tc.q.Match, ObjectType: tc.q.ObjectType, State: tc.q.State, States: tc.q.States, Name: tc.q.Name, ID: tc.q.ID})
		countTime := time.Since(t0)
		require.NoError(t, err)
		t.Logf("%-50s %6d results  median %8s  (count %d in %s)", tc.name, got, times[2].Round(10*time.Microsecond), count, countTime.Round(10*time.Microsecond))
		if tc.want >= 0 {
			assert.Equal(t, tc.want, got, tc.name)
		}
		if tc.fast {
			assert.Less(t, times[2], bound, "%s at %d objects", tc.name, n)
		}
	}
}
