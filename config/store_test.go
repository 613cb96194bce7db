package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoreValidate(t *testing.T) {
	pg := func(change func(p *Postgres)) Store {
		s := Store{Type: "postgres", Postgres: Postgres{DSN: Secret{File: "/etc/kmip-adapter/postgres.dsn"}}}
		if change != nil {
			change(&s.Postgres)
		}
		return s
	}
	bbolt := func(residentMiB int) Store {
		return Store{Type: "bbolt", Path: "/var/lib/kmip-adapter/store.db", Bbolt: Bbolt{ResidentLimitMiB: residentMiB}}
	}
	tests := []struct {
		name    string
		store   Store
		wantErr string // "" for valid
	}{
		{"bbolt", Store{Type: "bbolt", Path: "/var/lib/kmip-adapter/store.db"}, ""},
		{"bbolt without path", Store{Type: "bbolt"}, "store.path: required for the bbolt store"},
		{"bbolt, resident limit", bbolt(256), ""},
		{"bbolt, resident limit at its floor", bbolt(64), ""},
		{"bbolt, resident limit at its ceiling", bbolt(1 << 20), ""},
		{"bbolt, unbounded residency", bbolt(0), ""},
		{"bbolt, resident limit too small", bbolt(63), "store.bbolt.resident_limit_mib: 63 is outside 64..1048576 (0: unbounded)"},
		{"bbolt, resident limit too large", bbolt(1<<20 + 1), "store.bbolt.resident_limit_mib: 1048577 is outside 64..1048576"},
		{"bbolt, negative resident limit", bbolt(-1), "store.bbolt.resident_limit_mib: -1 is outside"},
		{"unknown type", Store{Type: "etcd"}, `store.type: "etcd" is not a known store (bbolt, postgres)`},
		{"postgres, defaults", pg(nil), ""},
		{"postgres, dsn from env", pg(func(p *Postgres) { p.DSN = Secret{Env: "KMIP_PG_DSN"} }), ""},
		{"postgres, pool settings", pg(func(p *Postgres) {
			p.MaxConns, p.MinConns = 32, 4
			p.MaxConnLifetime, p.MaxConnIdleTime = time.Hour, time.Minute
			p.ConnectTimeout, p.QueryTimeout = 3*time.Second, 10*time.Second
		}), ""},
		{"postgres, no dsn", pg(func(p *Postgres) { p.DSN = Secret{} }), "store.postgres.dsn: set exactly one of dsn.file or dsn.env"},
		{"postgres, two dsns", pg(func(p *Postgres) { p.DSN.Env = "X" }), "store.postgres.dsn: set exactly one of dsn.file or dsn.env"},
		{"postgres, bbolt path is not needed", pg(nil), ""},
		{"negative max_conns", pg(func(p *Postgres) { p.MaxConns = -1 }), "store.postgres.max_conns: -1 is outside 0..10000"},
		{"min above max", pg(func(p *Postgres) { p.MaxConns, p.MinConns = 4, 5 }), "store.postgres.min_conns: 5 is outside 0..max_conns"},
		{"min above the default max", pg(func(p *Postgres) { p.MinConns = 17 }), "store.postgres.min_conns: 17"},
		{"negative lifetime", pg(func(p *Postgres) { p.MaxConnLifetime = -time.Second }), "store.postgres.max_conn_lifetime: must not be negative"},
		{"negative idle time", pg(func(p *Postgres) { p.MaxConnIdleTime = -time.Second }), "store.postgres.max_conn_idle_time: must not be negative"},
		{"negative connect timeout", pg(func(p *Postgres) { p.ConnectTimeout = -time.Second }), "store.postgres.connect_timeout: must not be negative"},
		{"tiny query timeout", pg(func(p *Postgres) { p.QueryTimeout = time.Millisecond }), "store.postgres.query_timeout: 1ms is too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.store.validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// TestStoreValidateIsPartOfValidate checks that Config.Validate reaches the
// store section.
func TestStoreValidateIsPartOfValidate(t *testing.T) {
	c := Default()
	c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCAFile = "s.crt", "s.key", "ca.crt"
	c.Backend.PKCS11.TokenLabel = "t"
	c.Backend.PKCS11.PIN = Secret{Env: "PIN"}
	c.Store = Store{Type: "postgres"}
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "store.postgres.dsn")
}
