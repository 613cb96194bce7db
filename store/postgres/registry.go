package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kmip-adapter/kmip-adapter/store"
)

const tenantColumns = "id, backend, key_blob, revision, created_at, updated_at, settings"

// scanTenant reads one row of tenantColumns.
func scanTenant(row pgx.Row) (*store.Tenant, error) {
	var (
		rec      store.Tenant
		revision int64
		settings []byte
	)
	if err := row.Scan(&rec.ID, &rec.Backend, &rec.KeyBlob, &revision, &rec.CreatedAt, &rec.UpdatedAt, &settings); err != nil {
		return nil, err
	}
	ts, err := store.DecodeTenantSettings(settings)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", rec.ID, err)
	}
	rec.TenantSettings = ts
	rec.Revision = uint64(revision) //nolint:gosec // positive (CHECK)
	rec.CreatedAt, rec.UpdatedAt = rec.CreatedAt.UTC(), rec.UpdatedAt.UTC()
	return &rec, nil
}

// settingsJSON is the settings column: NULL for a tenant without settings
// (one made on first use), so that such rows stay as schema 1 wrote them.
func settingsJSON(ts store.TenantSettings) any {
	if ts.Status == "" && ts.Root == "" && len(ts.TrustedCAs) == 0 && isZeroPolicy(ts.Policy) {
		return nil
	}
	return string(store.EncodeTenantSettings(ts))
}

func isZeroPolicy(p store.TenantPolicy) bool {
	return !p.ActivateOnCreate && !p.AllowNoClientAuthEKU && !p.RequireCredential && len(p.AllowedOperations) == 0
}

// RegistrySerial implements store.Registry: the counter that the triggers
// of migration 2 bump on every change of kmip_tenants or kmip_clients.
func (s *Store) RegistrySerial(ctx context.Context) (uint64, error) {
	var n int64
	err := s.run(ctx, "registry serial", true, func(ctx context.Context) error {
		return s.db.QueryRow(ctx, "SELECT serial FROM kmip_registry_serial").Scan(&n)
	})
	return uint64(n), err //nolint:gosec // counts up from 0
}

// ListTenants implements store.Registry.
func (s *Store) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	return listRows(ctx, s, "list tenants", "SELECT "+tenantColumns+" FROM kmip_tenants ORDER BY id", scanTenant)
}

// DeleteTenant implements store.Registry; the clients go with the tenant
// (ON DELETE CASCADE).
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete tenant %q", id), "DELETE FROM kmip_tenants WHERE id = $1", id)
}

const clientColumns = "record, revision, created_at, updated_at"

func scanClient(row pgx.Row) (*store.Client, error) {
	var (
		record   []byte
		revision int64
		c        store.Client
	)
	if err := row.Scan(&record, &revision, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	created, updated := c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := json.Unmarshal(record, &c); err != nil {
		return nil, fmt.Errorf("client record: %w", err)
	}
	c.Revision = uint64(revision) //nolint:gosec // positive (CHECK)
	c.CreatedAt, c.UpdatedAt = created, updated
	return &c, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// PutClient implements store.Registry.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	op := fmt.Sprintf("put client %q/%q", c.TenantID, c.Name)
	if c.TenantID == "" || c.Name == "" {
		return fmt.Errorf("postgres: %s: empty tenant or client name", op)
	}
	record, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	rec := *c
	rec.UpdatedAt = now()
	err = s.run(ctx, op, false, func(ctx context.Context) error {
		if c.Revision == 0 {
			rec.Revision, rec.CreatedAt = 1, rec.UpdatedAt
			tag, err := s.db.Exec(ctx, `INSERT INTO kmip_clients (tenant_id, name, fingerprint, record, revision, created_at, updated_at)
				VALUES ($1, $2, $3, $4, 1, $5, $5) ON CONFLICT (tenant_id, name) DO NOTHING`,
				c.TenantID, c.Name, nullable(c.Fingerprint), string(record), rec.UpdatedAt)
			if err != nil {
				return foreignKeyNotFound(err, c.TenantID)
			}
			if tag.RowsAffected() == 0 {
				return store.ErrExists
			}
			return nil
		}
		var newRev, stored *int64
		var created *time.Time
		err := s.db.QueryRow(ctx, `WITH cur AS (
			SELECT revision FROM kmip_clients WHERE tenant_id = $1 AND name = $2
		), u AS (
			UPDATE kmip_clients SET fingerprint = $3, record = $4, revision = revision + 1, updated_at = $6
			WHERE tenant_id = $1 AND name = $2 AND revision = $5
			RETURNING revision, created_at
		)
		SELECT (SELECT revision FROM u), (SELECT created_at FROM u), (SELECT revision FROM cur)`,
			c.TenantID, c.Name, nullable(c.Fingerprint), string(record), int64(c.Revision), rec.UpdatedAt). //nolint:gosec // far below 2^63
			Scan(&newRev, &created, &stored)
		if err != nil {
			return err
		}
		rec.Revision, rec.CreatedAt, err = updated(c.Revision, newRev, created, stored)
		return err
	})
	if err != nil {
		return err
	}
	c.Revision, c.CreatedAt, c.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// foreignKeyNotFound turns the foreign key violation of a client without
// a tenant record into ErrNotFound.
func foreignKeyNotFound(err error, tenantID string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("tenant %q: %w", tenantID, store.ErrNotFound)
	}
	return err
}

// GetClient implements store.Registry.
func (s *Store) GetClient(ctx context.Context, tenantID, name string) (*store.Client, error) {
	var c *store.Client
	err := s.run(ctx, fmt.Sprintf("get client %q/%q", tenantID, name), true, func(ctx context.Context) error {
		var err error
		c, err = scanClient(s.db.QueryRow(ctx, "SELECT "+clientColumns+" FROM kmip_clients WHERE tenant_id = $1 AND name = $2", tenantID, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	return c, err
}

// ListClients implements store.Registry.
func (s *Store) ListClients(ctx context.Context, tenantID string) ([]*store.Client, error) {
	return listRows(ctx, s, "list clients",
		"SELECT "+clientColumns+" FROM kmip_clients WHERE $1 = '' OR tenant_id = $1 ORDER BY tenant_id, name", scanClient, tenantID)
}

// DeleteClient implements store.Registry.
func (s *Store) DeleteClient(ctx context.Context, tenantID, name string) error {
	return s.deleteOne(ctx, fmt.Sprintf("delete client %q/%q", tenantID, name),
		"DELETE FROM kmip_clients WHERE tenant_id = $1 AND name = $2", tenantID, name)
}

var _ store.Registry = (*Store)(nil)
