package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
	"github.com/kmip-adapter/kmip-adapter/store/storetest"
)

// requiredEnv, set to 1 (as CI does), turns missing PostgreSQL binaries
// into a failure instead of a skip.
const requiredEnv = "KMIP_INTEGRATION_REQUIRED"

// shared is the server most tests use, each in a schema of its own.
var (
	shared    *pgtest.Server
	sharedErr error
	schemaSeq atomic.Int64
)

func TestMain(m *testing.M) {
	shared, sharedErr = pgtest.Start()
	code := m.Run()
	if shared != nil {
		if err := shared.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// server returns the shared server, skipping (or failing, in CI) when
// PostgreSQL is not installed.
func server(t *testing.T) *pgtest.Server {
	t.Helper()
	if errors.Is(sharedErr, pgtest.ErrNotInstalled) && os.Getenv(requiredEnv) != "1" {
		t.Skipf("%v: skipping (set %s=1 to make this a failure)", sharedErr, requiredEnv)
	}
	require.NoError(t, sharedErr, "start PostgreSQL")
	return shared
}

// freshDSN makes an empty schema on srv and returns a DSN that selects it.
func freshDSN(t *testing.T, srv *pgtest.Server) string {
	t.Helper()
	dsn, err := srv.CreateSchema(context.Background(), fmt.Sprintf("t%d_%d", os.Getpid(), schemaSeq.Add(1)))
	require.NoError(t, err)
	return dsn
}

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: dsn, MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	srv := server(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshDSN(t, srv))
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dsn := freshDSN(t, server(t))
	s := open(t, dsn)
	o := &store.Object{TenantID: "t1", ID: "k1", ObjectType: 2, State: 2, Names: []string{"n"}, Material: []byte("sealed"),
		Index: []store.IndexEntry{{Key: "x-a", Value: []byte{1}}}}
	require.NoError(t, s.CreateObject(ctx, o))
	tenant := &store.Tenant{ID: "t1", Backend: "pkcs11", KeyBlob: []byte("blob")}
	require.NoError(t, s.PutTenant(ctx, tenant))
	require.NoError(t, s.Close())

	s = open(t, dsn)
	got, err := s.GetObject(ctx, "t1", "k1")
	require.NoError(t, err)
	assert.Equal(t, o, got)
	gotTenant, err := s.GetTenant(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, tenant, gotTenant)
	objs, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t1", Name: "n"})
	require.NoError(t, err)
	assert.Equal(t, []*store.Object{o}, objs)
}

// TestMigrationsWhenNodesStartTogether opens one fresh schema from many
// nodes at once: every Open succeeds and each migration is applied once.
func TestMigrationsWhenNodesStartTogether(t *testing.T) {
	ctx := context.Background()
	dsn := freshDSN(t, server(t))
	const nodes = 8
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			s, err := Open(ctx, Options{DSN: dsn, MaxConns: 2})
			if err == nil {
				err = s.CreateObject(ctx, &store.Object{TenantID: "t", ID: fmt.Sprintf("node%d", i), Names: []string{"n"}})
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "node %d", i)
	}

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT version FROM kmip_schema_migrations ORDER BY version")
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	want := make([]int32, SchemaVersion())
	for i := range want {
		want[i] = int32(i + 1) //nolint:gosec // small
	}
	assert.Equal(t, want, versions)

	s := open(t, dsn)
	n, err := s.CountObjects(ctx, store.ListQuery{TenantID: "t", Name: "n"})
	require.NoError(t, err)
	assert.Equal(t, nodes, n)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	dsn := freshDSN(t, server(t))
	require.NoError(t, open(t, dsn).Close())
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "INSERT INTO kmip_schema_migrations (version, name) VALUES ($1, 'from the future')", SchemaVersion()+1)
	require.NoError(t, err)

	_, err = Open(ctx, Options{DSN: dsn})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "newer than this build knows")
}

func TestMissingSchemaIsNamed(t *testing.T) {
	_, err := Open(context.Background(), Options{DSN: server(t).DSN("postgres", "search_path", "no_such_schema")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "search_path names no existing schema")
}

func TestBadDSNHidesPassword(t *testing.T) {
	_, err := Open(context.Background(), Options{DSN: "postgres://kmip:s3cret-pw@db.example:notaport/kmip"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "store.postgres.dsn")
	assert.NotContains(t, err.Error(), "s3cret-pw")
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	// A port nobody listens on: connection refused at once.
	srv := server(t)
	dsn := strings.Replace(srv.DSN("postgres"), fmt.Sprintf(":%d/", srv.Port()), ":1/", 1)
	start := time.Now()
	_, err := Open(context.Background(), Options{DSN: dsn, ConnectTimeout: time.Second})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.Contains(t, err.Error(), "127.0.0.1:1/postgres")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := open(t, freshDSN(t, server(t)))
	require.NoError(t, s.Close())
	_, err := s.GetObject(context.Background(), "t1", "k1")
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, s.CreateObject(context.Background(), &store.Object{TenantID: "t1", ID: "k1"}), store.ErrUnavailable)
}

func TestQueryTimeoutIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn := freshDSN(t, server(t))
	s, err := Open(ctx, Options{DSN: dsn, QueryTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "t", ID: "k"}))

	// Another session holds the row: the update waits past the timeout.
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT 1 FROM kmip_objects WHERE tenant_id = 't' AND id = 'k' FOR UPDATE")
	require.NoError(t, err)
	start := time.Now()
	err = s.UpdateObject(ctx, &store.Object{TenantID: "t", ID: "k", Revision: 1, State: 2})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.Contains(t, err.Error(), "no answer")
	assert.Less(t, time.Since(start), 3*time.Second)
	require.NoError(t, tx.Rollback(ctx))

	got, err := s.GetObject(ctx, "t", "k")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), got.Revision, "the timed-out update wrote nothing")
}

// TestDatabaseOutage stops the database under a running store: calls fail
// with ErrUnavailable while it is down, nothing is half written, and the
// same store works again once the database is back, without reopening.
//
// It stops the shared server: the tests of this package do not run in
// parallel.
func TestDatabaseOutage(t *testing.T) {
	srv := server(t)
	ctx := context.Background()
	s, err := Open(ctx, Options{DSN: freshDSN(t, srv), MaxConns: 4, ConnectTimeout: time.Second})
	require.NoError(t, err)
	defer s.Close()
	// Whatever happens below, the next tests get their server back.
	defer func() { _ = srv.Start() }()

	// Writers run through the outage.
	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		acked   sync.Map // IDs whose create returned nil
		failed  atomic.Int64
		unknown atomic.Value
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				err := s.CreateObject(ctx, &store.Object{TenantID: "t", ID: id, Names: []string{"load"},
					Index: []store.IndexEntry{{Key: "x-w", Value: []byte{byte(w)}}}})
				switch {
				case err == nil:
					acked.Store(id, true)
				case errors.Is(err, store.ErrUnavailable):
					failed.Add(1)
					time.Sleep(5 * time.Millisecond)
				default:
					unknown.Store(err)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, srv.Stop())

	// Down: every kind of call says unavailable, fast.
	start := time.Now()
	_, err = s.GetObject(ctx, "t", "w0-0")
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.ListObjects(ctx, store.ListQuery{TenantID: "t", Name: "load"})
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, s.PutTenant(ctx, &store.Tenant{ID: "t"}), store.ErrUnavailable)
	assert.Less(t, time.Since(start), 5*time.Second)
	time.Sleep(300 * time.Millisecond)

	require.NoError(t, srv.Start(), "restart PostgreSQL")
	// Back: the same store recovers by itself.
	require.Eventually(t, func() bool {
		_, err := s.GetTenant(ctx, "t")
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err, ok := unknown.Load().(error); ok {
		t.Fatalf("a write failed with something else than ErrUnavailable: %v", err)
	}
	assert.Positive(t, failed.Load(), "writes failed during the outage")

	// Every acknowledged object is there, each with its terms: what Get
	// finds, Locate finds (no object without its index entries).
	all, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t"})
	require.NoError(t, err)
	byName, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t", Name: "load", IDsOnly: true})
	require.NoError(t, err)
	assert.Len(t, byName, len(all))
	stored := map[string]bool{}
	for _, o := range all {
		stored[o.ID] = true
	}
	nAcked := 0
	acked.Range(func(k, _ any) bool {
		nAcked++
		assert.True(t, stored[k.(string)], "acknowledged object %s lost", k)
		return true
	})
	assert.Positive(t, nAcked)
	t.Logf("%d objects acknowledged, %d stored (writes cut short may or may not have committed), %d writes refused while down", nAcked, len(all), failed.Load())
}

func TestImportKeepsRecords(t *testing.T) {
	ctx := context.Background()
	s := open(t, freshDSN(t, server(t)))
	created := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.UTC)
	objs := []*store.Object{
		{TenantID: "t", ID: "a", ObjectType: 2, State: 2, Names: []string{"n"}, Revision: 7, CreatedAt: created, UpdatedAt: created.Add(time.Hour)},
		{TenantID: "t", ID: "b", ObjectType: 2, State: 1, Revision: 1, CreatedAt: created.Add(time.Second), UpdatedAt: created.Add(time.Second)},
	}
	present, err := s.ImportObjects(ctx, objs)
	require.NoError(t, err)
	assert.Equal(t, []*store.Object{nil, nil}, present)

	got, err := s.GetObject(ctx, "t", "a")
	require.NoError(t, err)
	assert.Equal(t, uint64(7), got.Revision)
	assert.Equal(t, created.Truncate(time.Microsecond), got.CreatedAt)

	again := []*store.Object{{TenantID: "t", ID: "c", Revision: 1, CreatedAt: created, UpdatedAt: created}, objs[0]}
	present, err = s.ImportObjects(ctx, again)
	require.NoError(t, err)
	assert.Nil(t, present[0])
	require.NotNil(t, present[1])
	assert.Equal(t, got, present[1])
	ids, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t"})
	require.NoError(t, err)
	require.Len(t, ids, 3)
	assert.Equal(t, []string{"b", "c", "a"}, []string{ids[0].ID, ids[1].ID, ids[2].ID}, "imported creation times order the list")
}
