package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// listRows runs query (a SELECT of whole records, retried like any read)
// and scans each row with scan.
func listRows[T any](ctx context.Context, s *Store, op, query string, scan func(pgx.Row) (*T, error), args ...any) ([]*T, error) {
	var out []*T
	err := s.run(ctx, op, true, func(ctx context.Context) error {
		rows, err := s.db.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*T, error) { return scan(r) })
		return err
	})
	return out, err
}

// deleteOne runs query, a DELETE of one row by its key; deleting nothing
// is store.ErrNotFound.
func (s *Store) deleteOne(ctx context.Context, op, query string, args ...any) error {
	return s.run(ctx, op, false, func(ctx context.Context) error {
		tag, err := s.db.Exec(ctx, query, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
