package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// scanBatch is how many objects ScanObjects reads per statement.
const scanBatch = 256

// TenantIDs implements store.Scanner: the tenant records, and the tenants
// of objects found by skipping from one tenant to the next in the primary
// key (one index probe per tenant, however many objects each has).
func (s *Store) TenantIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.run(ctx, "list tenant ids", true, func(ctx context.Context) error {
		rows, err := s.db.Query(ctx, `WITH RECURSIVE t AS (
			(SELECT tenant_id FROM kmip_objects ORDER BY tenant_id LIMIT 1)
			UNION ALL
			SELECT (SELECT o.tenant_id FROM kmip_objects o WHERE o.tenant_id > t.tenant_id ORDER BY o.tenant_id LIMIT 1)
			FROM t WHERE t.tenant_id IS NOT NULL
		)
		SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL
		UNION
		SELECT id FROM kmip_tenants
		ORDER BY 1`)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ScanObjects implements store.Scanner, reading scanBatch objects per
// statement in primary key order; fn runs between statements, so it may
// take its time without holding a transaction open.
func (s *Store) ScanObjects(ctx context.Context, tenantID, afterID string, fn func(*store.Object) error) error {
	for {
		var batch []*store.Object
		err := s.run(ctx, fmt.Sprintf("scan objects %q", tenantID), true, func(ctx context.Context) error {
			rows, err := s.db.Query(ctx, "SELECT "+columns+` FROM kmip_objects
				WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID, afterID, scanBatch)
			if err != nil {
				return err
			}
			batch, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.Object, error) { return scanObject(r) })
			return err
		})
		if err != nil {
			return err
		}
		for _, o := range batch {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(batch) < scanBatch {
			return nil
		}
		afterID = batch[len(batch)-1].ID
	}
}

// ImportTenant implements store.Importer.
func (s *Store) ImportTenant(ctx context.Context, t *store.Tenant) error {
	op := fmt.Sprintf("import tenant %q", t.ID)
	if t.ID == "" || t.Revision == 0 {
		return fmt.Errorf("postgres: %s: empty id or zero revision", op)
	}
	return s.run(ctx, op, true, func(ctx context.Context) error {
		tag, err := s.db.Exec(ctx, insertTenantSQL, t.ID, t.Backend, t.KeyBlob, int64(t.Revision), //nolint:gosec // far below 2^63
			t.CreatedAt.UTC(), t.UpdatedAt.UTC(), settingsJSON(t.TenantSettings))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrExists
		}
		return nil
	})
}

// ImportObjects implements store.Importer: one transaction, the inserts
// sent together (one round trip), then one read of the objects that were
// already there.
func (s *Store) ImportObjects(ctx context.Context, objs []*store.Object) ([]*store.Object, error) {
	for _, o := range objs {
		if err := checkIDs(o.TenantID, o.ID); err != nil || o.Revision == 0 {
			return nil, fmt.Errorf("postgres: import object %q/%q: empty id or zero revision", o.TenantID, o.ID)
		}
	}
	var present []*store.Object
	err := s.run(ctx, fmt.Sprintf("import %d objects", len(objs)), true, func(ctx context.Context) error {
		present = make([]*store.Object, len(objs))
		return s.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			batch := &pgx.Batch{}
			for _, o := range objs {
				rec := *o
				rec.CreatedAt = o.CreatedAt.UTC().Truncate(time.Microsecond)
				rec.UpdatedAt = o.UpdatedAt.UTC().Truncate(time.Microsecond)
				batch.Queue(insertSQL, append(toRow(&rec).values(), terms(&rec))...)
			}
			res := tx.SendBatch(ctx, batch)
			var tenants, ids []string
			var at []int
			for i, o := range objs {
				var n int
				if err := res.QueryRow().Scan(&n); err != nil {
					_ = res.Close()
					return err
				}
				if n == 0 {
					tenants, ids, at = append(tenants, o.TenantID), append(ids, o.ID), append(at, i)
				}
			}
			if err := res.Close(); err != nil {
				return err
			}
			if len(at) == 0 {
				return nil
			}
			rows, err := tx.Query(ctx, "SELECT "+columns+` FROM kmip_objects
				WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, tenants, ids)
			if err != nil {
				return err
			}
			stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.Object, error) { return scanObject(r) })
			if err != nil {
				return err
			}
			byKey := make(map[[2]string]*store.Object, len(stored))
			for _, o := range stored {
				byKey[[2]string{o.TenantID, o.ID}] = o
			}
			for _, i := range at {
				if present[i] = byKey[[2]string{objs[i].TenantID, objs[i].ID}]; present[i] == nil {
					return errors.New("an object that was present is gone")
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return present, nil
}
