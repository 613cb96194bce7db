package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxConns        = 16
	DefaultMaxConnLifetime = time.Hour
	DefaultMaxConnIdleTime = 30 * time.Minute
	DefaultConnectTimeout  = 5 * time.Second
	DefaultQueryTimeout    = 30 * time.Second
	// migrateTimeout bounds Open's wait for another node's migration and
	// its own.
	migrateTimeout = 5 * time.Minute
)

// Options configures Open. Zero values take the defaults above.
type Options struct {
	// DSN is a libpq connection string or URL
	// (postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full).
	// Its search_path, if set, selects the schema the store lives in.
	DSN string
	// MaxConns and MinConns bound the connection pool.
	MaxConns int
	MinConns int
	// MaxConnLifetime closes connections older than this (so that a
	// load balancer or a failover spreads them again); MaxConnIdleTime
	// closes idle ones.
	MaxConnLifetime time.Duration
	MaxConnIdleTime time.Duration
	// ConnectTimeout bounds establishing one connection.
	ConnectTimeout time.Duration
	// QueryTimeout bounds each call of the store (a Locate over a large
	// tenant included): past it the call fails with ErrUnavailable.
	QueryTimeout time.Duration
}

// Store is a store.Store in a PostgreSQL database, shared by any number of
// nodes. Every method is one statement or one transaction, so no reader
// sees half of a write and a write that fails leaves nothing behind.
type Store struct {
	pool *pgxpool.Pool
	// db runs the statements: the pool, or the transaction of a Store
	// handed to an Update function (tx.go).
	db           dbtx
	inTx         bool
	queryTimeout time.Duration
	where        string // "host:port/database", for messages
	closed       atomic.Bool
	// watching and watchErr are Watch's (watch.go).
	watching  atomic.Bool
	watchErr  func(error)
	watchPing time.Duration // 0: watchPingEvery
}

// Open connects to the database and brings its schema to the version this
// build knows (see migrate.go), waiting for another node that migrates at
// the same time. A database that cannot be reached is ErrUnavailable.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		// The parser's message may quote the string, password included.
		return nil, errors.New("store.postgres.dsn: not a valid connection string (postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full, or key=value pairs)")
	}
	def := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	cfg.MaxConns = DefaultMaxConns
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(min(o.MaxConns, 1<<20)) //nolint:gosec // bounded
	}
	cfg.MinConns = int32(min(max(o.MinConns, 0), int(cfg.MaxConns))) //nolint:gosec // bounded
	cfg.MaxConnLifetime = def(o.MaxConnLifetime, DefaultMaxConnLifetime)
	cfg.MaxConnLifetimeJitter = cfg.MaxConnLifetime / 10
	cfg.MaxConnIdleTime = def(o.MaxConnIdleTime, DefaultMaxConnIdleTime)
	cfg.HealthCheckPeriod = 10 * time.Second
	cfg.ConnConfig.ConnectTimeout = def(o.ConnectTimeout, DefaultConnectTimeout)
	s := &Store{
		queryTimeout: def(o.QueryTimeout, DefaultQueryTimeout),
		where:        fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database),
	}
	params := cfg.ConnConfig.RuntimeParams
	setDefault := func(k, v string) {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	setDefault("application_name", "kmip-adapter")
	// The server ends what the node gave up on: a statement that outlives
	// the query timeout (waiting for a lock, say) is cancelled there too,
	// instead of committing after the node answered "unavailable", and a
	// transaction left open by a vanished node does not hold its locks.
	setDefault("statement_timeout", strconv.FormatInt(s.queryTimeout.Milliseconds(), 10))
	setDefault("idle_in_transaction_session_timeout", strconv.FormatInt(2*s.queryTimeout.Milliseconds(), 10))
	// A cancelled call sends PostgreSQL a cancel request (pgx only drops
	// the connection by default, leaving the statement running).
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("store.postgres: %w", err)
	}
	s.db = s.pool
	mctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	if err := s.migrate(mctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("store.postgres: %s: %w", s.where, s.classify(err))
	}
	return s, nil
}

// Close closes the pool. Calling it again does nothing; calls made after
// it fail with ErrUnavailable.
func (s *Store) Close() error {
	if s.inTx { // a view of an Update: the pool is its parent's
		return nil
	}
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// errClosed is the cause of ErrUnavailable after Close.
var errClosed = errors.New("store closed")

// run calls fn with a context bounded by the query timeout and gives its
// error the operation's name and a store error class. Calls that may be
// repeated without effect (reads, and imports, whose inserts say ON
// CONFLICT DO NOTHING) are retried once when the database could not be
// reached, which is what a pooled connection to a restarted server gives;
// other writes only when nothing was sent (a write whose answer was lost
// may have committed: repeating a Create would then answer "exists").
func (s *Store) run(ctx context.Context, op string, idempotent bool, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, errClosed)
		}
		qctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
		raw := fn(qctx)
		timedOut := qctx.Err() != nil && ctx.Err() == nil
		cancel()
		if raw == nil {
			return nil
		}
		// The server's statement_timeout is the same bound as qctx's and
		// may fire first: either way the database did not answer in time.
		var pgErr *pgconn.PgError
		if errors.As(raw, &pgErr) && pgErr.Code == "57014" && ctx.Err() == nil {
			timedOut = true
		}
		var err error
		switch {
		case ctx.Err() != nil:
			// The caller gave up: say so, whatever the driver made of it.
			err = ctx.Err()
		case timedOut:
			err = fmt.Errorf("%w: no answer from %s within %s", store.ErrUnavailable, s.where, s.queryTimeout)
		default:
			err = s.classify(raw)
		}
		// Inside a transaction nothing is repeated: a lost connection
		// took the transaction with it, and Update's caller decides.
		if errors.Is(err, store.ErrUnavailable) && attempt == 0 && !timedOut && !s.inTx && (idempotent || pgconn.SafeToRetry(raw)) {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
				continue
			}
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
}

// classify wraps err with the store error that says what a caller can do
// about it: ErrUnavailable for everything that means "the database is not
// there now" (no connection, a server shutting down or starting, a
// standby that refuses writes after a failover, too many connections),
// ErrConflict for serialization failures and deadlocks (retry), ErrExists
// for unique violations.
func (s *Store) classify(err error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, errClosed)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case strings.HasPrefix(code, "08"), // connection exception
			code == "57P01", code == "57P02", code == "57P03", // shutdown, crash, cannot connect now
			code == "53300", // too many connections
			code == "25006", // read-only transaction: a standby
			code == "57014", // statement timeout
			code == "55P03", // lock not available
			code == "53100", // disk full
			code == "3D000", // database does not exist (yet)
			code == "28000", // invalid authorization
			code == "28P01": // wrong password
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		case code == "40001", code == "40P01",
			code == "25P02": // in a failed transaction (after a deadlock, say): retry it whole
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case code == "23505":
			return fmt.Errorf("%w: %w", store.ErrExists, err)
		}
		return err
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, pgconn.ErrConnClosed), pgconn.SafeToRetry(err):
		return fmt.Errorf("%w: %s: %w", store.ErrUnavailable, s.where, err)
	}
	return err
}

// tx runs fn in a transaction with the given options, committing when fn
// returns nil. Inside an Update's transaction it is a savepoint of that
// one (which keeps its own options).
func (s *Store) tx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	if s.inTx {
		return pgx.BeginFunc(ctx, s.db, fn)
	}
	return pgx.BeginTxFunc(ctx, s.pool, opts, fn)
}

func now() time.Time {
	// PostgreSQL keeps microseconds: the caller gets what a read returns.
	return time.Now().UTC().Truncate(time.Microsecond)
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Scanner    = (*Store)(nil)
	_ store.Importer   = (*Store)(nil)
	_ store.Transactor = (*Store)(nil)
)
