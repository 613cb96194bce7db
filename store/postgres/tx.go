package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// dbtx is what the statements run on: the pool, or one transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Update implements store.Transactor with one SQL transaction (READ
// COMMITTED, as every statement of the store runs): fn's Store sends its
// statements on the transaction's connection. Two transactions that
// wait for each other's rows end in a deadlock that PostgreSQL breaks by
// failing one of them: that one returns ErrConflict and may be run again.
//
// A node that vanishes mid-transaction leaves it to the server's
// idle_in_transaction_session_timeout (twice the query timeout), which
// rolls it back and frees its row locks.
func (s *Store) Update(ctx context.Context, fn func(tx store.Store) error) error {
	if s.inTx {
		// Nested: a savepoint, so that fn's error undoes only fn.
		return s.savepoint(ctx, fn)
	}
	var tx pgx.Tx
	if err := s.run(ctx, "begin", true, func(qctx context.Context) error {
		var err error
		// ctx, not qctx: the transaction outlives this one call.
		tx, err = s.pool.Begin(ctx)
		return err
	}); err != nil {
		return err
	}
	view := s.view(tx)
	err := fn(view)
	if err != nil {
		// The rollback's own error changes nothing: an unfinished
		// transaction is rolled back by the server when its connection
		// goes.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return s.run(ctx, "commit", false, func(qctx context.Context) error {
		cerr := tx.Commit(qctx)
		if errors.Is(cerr, pgx.ErrTxCommitRollback) {
			// A statement failed inside and fn went on: nothing was kept.
			return fmt.Errorf("%w: transaction rolled back by an earlier failed statement", store.ErrConflict)
		}
		return cerr
	})
}

func (s *Store) savepoint(ctx context.Context, fn func(tx store.Store) error) error {
	sp, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: savepoint: %w", s.classify(err))
	}
	if err := fn(s.view(sp)); err != nil {
		_ = sp.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: release savepoint: %w", s.classify(err))
	}
	return nil
}

// view is a Store that runs its statements in tx. Its Close does nothing.
func (s *Store) view(tx pgx.Tx) *Store {
	return &Store{pool: s.pool, db: tx, inTx: true, queryTimeout: s.queryTimeout, where: s.where}
}
