package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRegistryAndAdminValidate(t *testing.T) {
	full := Admin{Listen: "127.0.0.1:5697", CertFile: "s.crt", KeyFile: "s.key", OperatorCAFile: "op.crt"}
	tests := []struct {
		name  string
		reg   Registry
		admin Admin
		err   string
	}{
		{"defaults: admin off", Default().Registry, Admin{}, ""},
		{"admin on", Default().Registry, full, ""},
		{"registry mode", Registry{Mode: "registry", RefreshInterval: time.Second}, Admin{}, ""},
		{"unknown mode", Registry{Mode: "strict", RefreshInterval: time.Second}, Admin{}, "registry.mode"},
		{"refresh too often", Registry{Mode: "auto", RefreshInterval: time.Millisecond}, Admin{}, "registry.refresh_interval"},
		{"bad listen", Default().Registry, Admin{Listen: "5697"}, "admin.listen"},
		{"no operator CA", Default().Registry, Admin{Listen: ":5697", CertFile: "a", KeyFile: "b"}, "admin.operator_ca_file"},
		{"issuer half set", Default().Registry, Admin{IssuerCertFile: "ca.crt"}, "admin.issuer_cert_file/admin.issuer_key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.reg.validate()
			if err == nil {
				err = tt.admin.validate()
			}
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
		})
	}
}
