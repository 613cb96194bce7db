package postgres

import (
	"context"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// registryChannel is the NOTIFY channel of registry changes; the payload
// is the schema the change was made in (migration 4).
const registryChannel = "kmip_registry"

// Listener timing: how long a quiet connection waits before it is checked
// with a ping, and the reconnect backoff.
const (
	watchPingEvery  = 15 * time.Second
	watchPingWait   = 5 * time.Second
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// Watch implements store.Watcher with LISTEN on a connection of its own
// (outside the pool: a listening connection is never handed to a query).
// Notifications from other schemas of the database are ignored. A
// connection that goes quiet is pinged every watchPingEvery, and TCP
// keepalives find a peer that vanished without closing it; a lost
// connection is reopened with backoff, and ChangeResync reported once it
// listens again.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) {
	backoff := watchBackoffMin
	for ctx.Err() == nil {
		began := time.Now()
		err := s.listen(ctx, fn)
		s.watching.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			backoff = watchBackoffMin // it worked for a while: start over
		}
		if s.watchErr != nil {
			s.watchErr(err)
		}
		// Jitter keeps nodes that lost the database together from
		// coming back in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// Watching implements store.Watcher.
func (s *Store) Watching() bool { return s.watching.Load() }

// listen runs one listening connection until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, fn func(store.Change)) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	// A wait that ends by deadline leaves the connection usable (the
	// pool's handler cancels on the server, for statements).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{registryChannel}.Sanitize()); err != nil {
		return err
	}
	s.watching.Store(true)
	fn(store.Change{Kind: store.ChangeResync})
	for {
		every := watchPingEvery
		if s.watchPing > 0 { // tests
			every = s.watchPing
		}
		wctx, cancel := context.WithTimeout(ctx, every)
		n, err := conn.WaitForNotification(wctx)
		quiet := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case quiet:
			pctx, cancel := context.WithTimeout(ctx, watchPingWait)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if schema != nil && n.Payload == *schema {
			fn(store.Change{Kind: store.ChangeRegistry})
		}
	}
}

// OnWatchError sets a function that Watch calls with the error that
// ended each listening connection (for the log), before it retries.
func (s *Store) OnWatchError(fn func(error)) { s.watchErr = fn }

var _ store.Watcher = (*Store)(nil)
