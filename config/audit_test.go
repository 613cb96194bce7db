package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditValidate(t *testing.T) {
	on := func(change func(a *Audit)) Audit {
		a := Default().Audit
		a.Path = "/var/log/kmip-adapter/audit.log"
		if change != nil {
			change(&a)
		}
		return a
	}
	tests := []struct {
		name    string
		audit   Audit
		wantErr string // "" for valid
	}{
		{"off by default", Default().Audit, ""},
		{"off ignores the rest", Audit{Sync: "sometimes"}, ""},
		{"defaults", on(nil), ""},
		{"sync none", on(func(a *Audit) { a.Sync = "none" }), ""},
		{"not required", on(func(a *Audit) { a.Required = false }), ""},
		{"never rotate", on(func(a *Audit) { a.MaxSegmentSize = 0 }), ""},
		{"key file elsewhere", on(func(a *Audit) { a.KeyFile = "/etc/kmip-adapter/audit.key" }), ""},
		{"bad sync", on(func(a *Audit) { a.Sync = "always" }), `audit.sync: "always" is not fsync or none`},
		{"empty sync", on(func(a *Audit) { a.Sync = "" }), `audit.sync: "" is not fsync or none`},
		{"tiny segments", on(func(a *Audit) { a.MaxSegmentSize = 1000 }), "audit.max_segment_size: 1000 is below 65536"},
		{"negative segments", on(func(a *Audit) { a.MaxSegmentSize = -1 }), "audit.max_segment_size: -1 is below 65536"},
		{"append, no preallocation", on(func(a *Audit) { a.Preallocate = 0 }), ""},
		{"tiny preallocation", on(func(a *Audit) { a.Preallocate = 4096 }), "audit.preallocate: 4096 is below 65536"},
		{"negative preallocation", on(func(a *Audit) { a.Preallocate = -1 }), "audit.preallocate: -1 is below 65536"},
		{"key file is the log", on(func(a *Audit) { a.KeyFile = "/var/log/kmip-adapter/./audit.log" }), "audit.key_file: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.audit.validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr), err.Error())
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestAuditKeyFile(t *testing.T) {
	assert.Equal(t, "/a/audit.log.key", (&Audit{Path: "/a/audit.log"}).AuditKeyFile())
	assert.Equal(t, "/k/audit.key", (&Audit{Path: "/a/audit.log", KeyFile: "/k/audit.key"}).AuditKeyFile())
}

func TestReservedTenantNamesAreRefused(t *testing.T) {
	for _, tenant := range []string{"_audit", "_"} {
		s := Default().Server
		s.Tenant = tenant
		err := s.validate()
		require.Error(t, err, tenant)
		assert.Contains(t, err.Error(), "server.tenant: ")
		assert.Contains(t, err.Error(), "reserved")
	}
	s := Default().Server
	s.Tenant = "acme_"
	assert.NoError(t, s.validate())
}
