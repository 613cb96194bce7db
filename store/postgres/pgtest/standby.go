package pgtest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
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
// accepts writes).
func (s *Server) Promote(ctx context.Context) error {
	return s.Exec(ctx, "postgres", "SELECT pg_promote(true, 60)")
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
