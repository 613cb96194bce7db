package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
)

// pgEnv is a PostgreSQL server of the test's own and a development
// directory (`kmipctl dev init --store DSN`) whose configuration points at
// one database on it. Every node started from the directory shares the
// database and the SoftHSM2 token.
type pgEnv struct {
	pg  *pgtest.Server
	db  string // database name
	dsn string
	dir string
}

// startPostgres starts a private PostgreSQL server for the test, stopped
// and removed when the test ends. A missing PostgreSQL skips the test (or
// fails it in CI).
func startPostgres(t *testing.T) *pgtest.Server {
	t.Helper()
	pg, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNotInstalled) {
		skipOrFail(t, "%v", err)
	}
	require.NoError(t, err, "start PostgreSQL")
	t.Cleanup(func() {
		if err := pg.Close(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return pg
}

// pgBase is a development directory made once for the PostgreSQL tests:
// provisioning a SoftHSM2 token takes seconds, so each test copies its
// token and PKI and lets `dev init` keep them.
var pgBase = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(suite.tmp, "pg-base")
	kmipctl := filepath.Join(suite.binDir, "kmipctl")
	if suite.buildErr != nil {
		return "", suite.buildErr
	}
	return dir, devInit(kmipctl, dir)
})

// newPGEnv starts PostgreSQL, makes a database and prepares a development
// directory on it, as a user does with `kmipctl dev init --store DSN`.
func newPGEnv(t *testing.T, name string) *pgEnv {
	t.Helper()
	requireSoftHSM(t)
	pg := startPostgres(t)
	return newPGEnvOn(t, pg, name)
}

// newPGEnvOn is newPGEnv on a running server.
func newPGEnvOn(t *testing.T, pg *pgtest.Server, name string) *pgEnv {
	t.Helper()
	base, err := pgBase()
	require.NoError(t, err, "development directory")
	dsn, err := pg.CreateDatabase(context.Background(), name)
	require.NoError(t, err)
	e := &pgEnv{pg: pg, db: name, dsn: dsn, dir: filepath.Join(suite.tmp, "pg-"+name)}
	require.NoError(t, os.MkdirAll(e.dir, 0o700))
	for _, sub := range []string{"softhsm", "pki"} {
		require.NoError(t, os.CopyFS(filepath.Join(e.dir, sub), os.DirFS(filepath.Join(base, sub))))
	}
	out, err := runKmipctl(t, "dev", "init", "--dir", e.dir, "--listen", "127.0.0.1:0", "--store", dsn)
	require.NoError(t, err, "kmipctl dev init --store: %s", out)
	require.Contains(t, out, "a second node on the same store", "dev init says how to start another node")
	return e
}

// runKmipctl runs the CLI and returns its combined output.
func runKmipctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin(t, "kmipctl"), args...)
	cmd.Env = environ()
	out, err := runWithTimeout(cmd, cmdTimeout)
	return string(out), err
}

// node starts one more kmip-adapter on the environment's configuration
// (its own listener on a free port), stopped when the test ends unless it
// was killed.
func (e *pgEnv) node(t *testing.T, args ...string) *server {
	t.Helper()
	s, err := startServer(bin(t, "kmip-adapter"), e.dir, nil, args...)
	require.NoError(t, err)
	t.Cleanup(func() {
		select {
		case <-s.exited:
			return // killed by the test
		default:
		}
		if _, err := s.stopCleanly(); err != nil {
			t.Errorf("node %s: %v", s.addr, err)
		}
	})
	return s
}

// kill ends a node at once (SIGKILL), as a crash or a pulled plug would.
func kill(t *testing.T, s *server) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Kill())
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("node %s still running 10s after SIGKILL", s.addr)
	}
}

// conn opens a direct database connection, for checks behind the
// adapter's back.
func (e *pgEnv) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(ctx) })
	return c
}

// storedObjects returns the names of every object of the tenant, by ID,
// read from the database.
func (e *pgEnv) storedObjects(t *testing.T, tenant string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	rows, err := e.conn(t).Query(ctx, "SELECT id, names FROM kmip_objects WHERE tenant_id = $1", tenant)
	require.NoError(t, err)
	out := map[string][]string{}
	for rows.Next() {
		var (
			id    string
			names [][]byte
		)
		require.NoError(t, rows.Scan(&id, &names))
		for _, n := range names {
			out[id] = append(out[id], string(n))
		}
	}
	require.NoError(t, rows.Err())
	return out
}

// logLines returns a node's log lines that contain all of words, for
// failure messages.
func logLines(s *server, words ...string) string {
	var out []string
	for _, l := range strings.Split(s.log.String(), "\n") {
		match := true
		for _, w := range words {
			match = match && strings.Contains(l, w)
		}
		if match {
			out = append(out, l)
		}
	}
	return fmt.Sprintf("%d lines:\n%s", len(out), strings.Join(out, "\n"))
}
