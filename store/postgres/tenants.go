package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// GetTenant implements store.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	var t *store.Tenant
	err := s.run(ctx, fmt.Sprintf("get tenant %q", id), true, func(ctx context.Context) error {
		rec, err := scanTenant(s.db.QueryRow(ctx, "SELECT "+tenantColumns+" FROM kmip_tenants WHERE id = $1", id))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		t = rec
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

const insertTenantSQL = `INSERT INTO kmip_tenants (id, backend, key_blob, revision, created_at, updated_at, settings)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`

// updateTenantSQL is updateSQL for tenants: it writes only over revision
// $4, and says which revision is stored when it does not.
const updateTenantSQL = `WITH cur AS (
	SELECT revision FROM kmip_tenants WHERE id = $1
), u AS (
	UPDATE kmip_tenants SET backend = $2, key_blob = $3, revision = revision + 1, updated_at = $5, settings = $6
	WHERE id = $1 AND revision = $4
	RETURNING revision, created_at
)
SELECT (SELECT revision FROM u), (SELECT created_at FROM u), (SELECT revision FROM cur)`

// PutTenant implements store.Store. Updating a tenant that does not exist
// is ErrNotFound.
func (s *Store) PutTenant(ctx context.Context, t *store.Tenant) error {
	op := fmt.Sprintf("put tenant %q", t.ID)
	if t.ID == "" {
		return fmt.Errorf("postgres: %s: empty tenant id", op)
	}
	rec := *t
	rec.UpdatedAt = now()
	err := s.run(ctx, op, false, func(ctx context.Context) error {
		if t.Revision == 0 {
			rec.Revision, rec.CreatedAt = 1, rec.UpdatedAt
			tag, err := s.db.Exec(ctx, insertTenantSQL, rec.ID, rec.Backend, rec.KeyBlob, int64(1), rec.CreatedAt, rec.UpdatedAt, settingsJSON(rec.TenantSettings))
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
		carried := int64(t.Revision) //nolint:gosec // revisions stay far below 2^63
		row := s.db.QueryRow(ctx, updateTenantSQL, rec.ID, rec.Backend, rec.KeyBlob, carried, rec.UpdatedAt, settingsJSON(rec.TenantSettings))
		err := row.Scan(&newRev, &created, &stored)
		if err != nil {
			return err
		}
		rec.Revision, rec.CreatedAt, err = updated(t.Revision, newRev, created, stored)
		return err
	})
	if err != nil {
		return err
	}
	t.Revision, t.CreatedAt, t.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// updated reads the answer of an update that writes only over the
// revision it carries (updateTenantSQL and PutClient's update): the new
// revision and the creation time when it wrote, else the revision stored
// (nil without a record). It returns the written record's revision and
// creation time, or store.RevisionMismatch.
func updated(carried uint64, newRev *int64, created *time.Time, stored *int64) (uint64, time.Time, error) {
	if newRev != nil && created != nil {
		return uint64(*newRev), created.UTC(), nil //nolint:gosec // positive
	}
	if stored == nil {
		return 0, time.Time{}, store.RevisionMismatch(carried, nil)
	}
	return 0, time.Time{}, store.RevisionMismatch(carried, &store.Stamp{Revision: uint64(*stored)}) //nolint:gosec // positive
}
