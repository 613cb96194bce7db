package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// StartStandby makes a streaming standby of s (pg_basebackup with -R:
// standby.signal and primary_conninfo pointing at s) in a new temporary
// directory and starts it on a port of its own. It answers reads at
// once and refuses writes until Promote. Call Close when done.
func (s *Server) StartStandby() (*Server, error) {
	st := &Server{bin: s.bin, cred: s.cred}
	var err error
	if st.root, err = os.MkdirTemp("", "pgtest-standby-"); err != nil {
		return nil, err
	}
	if st.cred != nil {
		if err := os.Chown(st.root, int(st.cred.Uid), int(st.cred.Gid)); err != nil {
			_ = os.RemoveAll(st.root)
			return nil, err
		}
	}
	cmd := st.command("pg_basebackup", "-D", st.dataDir(), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", "postgres", "-X", "stream", "-R", "--no-sync", "-c", "fast")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(st.root)
		return nil, fmt.Errorf("pg_basebackup: %w\n%s", err, out)
	}
	if err := os.Chmod(st.dataDir(), 0o700); err != nil && st.cred == nil {
		_ = os.RemoveAll(st.root)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if st.port, err = freePort(); err == nil {
			if err = st.Start(); err == nil {
				return st, nil
			}
		}
		if attempt == 3 {
			_ = os.RemoveAll(st.root)
			return nil, err
		}
	}
}

// Promote makes a standby a primary (pg_promote, waiting until it
// accepts writes). The standby may cancel the call itself while it
// replays (SQLSTATE 40001, "conflict with recovery"): it is asked again,
// and a standby already out of recovery by then counts as promoted.
func (s *Server) Promote(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.Exec(ctx, "postgres", "SELECT pg_promote(true, 60)")
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case attempt > 0 && errors.As(err, &pgErr) && pgErr.Code == "55000": // recovery is not in progress
			return nil
		case !errors.As(err, &pgErr) || pgErr.Code != "40001":
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// WaitReplayed waits until the standby st has replayed everything the
// primary s has written so far.
func (s *Server) WaitReplayed(ctx context.Context, st *Server) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return err
	}
	sconn, err := pgx.Connect(ctx, st.DSN("postgres"))
	if err != nil {
		return err
	}
	defer sconn.Close(ctx)
	for {
		var done bool
		if err := sconn.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
