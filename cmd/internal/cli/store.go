package cli

import (
	"context"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
	"github.com/kmip-adapter/kmip-adapter/store/postgres"
)

// OpenStore opens the store that store.type selects: the bbolt file at
// store.path, or the PostgreSQL database of store.postgres (its schema
// migrated to this build's version, waiting for other nodes that do the
// same). Errors name the configuration key.
func OpenStore(ctx context.Context, c config.Store) (store.Store, error) {
	switch c.Type {
	case "bbolt":
		return bbolt.Open(c.Path, bbolt.WithResidentLimit(int64(c.Bbolt.ResidentLimitMiB)<<20))
	case "postgres":
		dsn, err := c.Postgres.DSN.Value()
		if err != nil {
			return nil, fmt.Errorf("store.postgres.dsn: %w", err)
		}
		return postgres.Open(ctx, PostgresOptions(c.Postgres, dsn))
	default:
		return nil, fmt.Errorf("store.type: %q is not a known store (bbolt, postgres)", c.Type)
	}
}

// PostgresOptions maps the configuration onto postgres.Options.
func PostgresOptions(c config.Postgres, dsn string) postgres.Options {
	return postgres.Options{
		DSN: dsn, MaxConns: c.MaxConns, MinConns: c.MinConns,
		MaxConnLifetime: c.MaxConnLifetime, MaxConnIdleTime: c.MaxConnIdleTime,
		ConnectTimeout: c.ConnectTimeout, QueryTimeout: c.QueryTimeout,
	}
}
