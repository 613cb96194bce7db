package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmip-adapter/kmip-adapter/store"
)

const checkpointColumns = "kind, id, node, data, revision, created_at, updated_at"

func scanCheckpoint(row pgx.Row) (*store.Checkpoint, error) {
	var (
		c        store.Checkpoint
		data     string
		revision int64
	)
	if err := row.Scan(&c.Kind, &c.ID, &c.Node, &data, &revision, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.Data = []byte(data)
	c.Revision = uint64(revision) //nolint:gosec // positive (CHECK)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

const updateCheckpointSQL = `WITH cur AS (
	SELECT revision FROM kmip_checkpoints WHERE kind = $1 AND id = $2
), u AS (
	UPDATE kmip_checkpoints SET node = $3, data = $4::jsonb, revision = revision + 1, updated_at = $6
	WHERE kind = $1 AND id = $2 AND revision = $5
	RETURNING revision, created_at
)
SELECT (SELECT revision FROM u), (SELECT created_at FROM u), (SELECT revision FROM cur)`

// PutCheckpoint implements store.Checkpoints.
func (s *Store) PutCheckpoint(ctx context.Context, c *store.Checkpoint) error {
	op := fmt.Sprintf("put checkpoint %q/%q", c.Kind, c.ID)
	if c.Kind == "" || c.ID == "" {
		return fmt.Errorf("postgres: %s: empty kind or id", op)
	}
	if !json.Valid(c.Data) {
		return fmt.Errorf("postgres: %s: data is not JSON", op)
	}
	rec := *c
	rec.UpdatedAt = now()
	err := s.run(ctx, op, false, func(ctx context.Context) error {
		if c.Revision == 0 {
			rec.Revision, rec.CreatedAt = 1, rec.UpdatedAt
			tag, err := s.db.Exec(ctx, `INSERT INTO kmip_checkpoints (`+checkpointColumns+`)
				VALUES ($1, $2, $3, $4::jsonb, 1, $5, $5) ON CONFLICT DO NOTHING`,
				rec.Kind, rec.ID, rec.Node, string(rec.Data), rec.UpdatedAt)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return store.ErrExists
			}
			return nil
		}
		var newRev, stored *int64
		var created *time.Time
		carried := int64(c.Revision) //nolint:gosec // revisions stay far below 2^63
		if err := s.db.QueryRow(ctx, updateCheckpointSQL, rec.Kind, rec.ID, rec.Node, string(rec.Data), carried, rec.UpdatedAt).
			Scan(&newRev, &created, &stored); err != nil {
			return err
		}
		var err error
		rec.Revision, rec.CreatedAt, err = updated(c.Revision, newRev, created, stored)
		return err
	})
	if err != nil {
		return err
	}
	c.Revision, c.CreatedAt, c.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// GetCheckpoint implements store.Checkpoints.
func (s *Store) GetCheckpoint(ctx context.Context, kind, id string) (*store.Checkpoint, error) {
	var c *store.Checkpoint
	err := s.run(ctx, fmt.Sprintf("get checkpoint %q/%q", kind, id), true, func(ctx context.Context) error {
		rec, err := scanCheckpoint(s.db.QueryRow(ctx, "SELECT "+checkpointColumns+" FROM kmip_checkpoints WHERE kind = $1 AND id = $2", kind, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		c = rec
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListCheckpoints implements store.Checkpoints.
func (s *Store) ListCheckpoints(ctx context.Context, kind string) ([]*store.Checkpoint, error) {
	return listRows(ctx, s, fmt.Sprintf("list checkpoints %q", kind),
		"SELECT "+checkpointColumns+" FROM kmip_checkpoints WHERE kind = $1 ORDER BY id", scanCheckpoint, kind)
}

// DeleteCheckpoint implements store.Checkpoints.
func (s *Store) DeleteCheckpoint(ctx context.Context, kind, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete checkpoint %q/%q", kind, id),
		"DELETE FROM kmip_checkpoints WHERE kind = $1 AND id = $2", kind, id)
}

var _ store.Checkpoints = (*Store)(nil)
