package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validHPCS() HPCS {
	h := Default().Backend.HPCS
	h.URL = "https://us-south.kms.cloud.ibm.com"
	h.InstanceID = "1e8a0a6c-0000-4000-8000-000000000001"
	h.RootKeyID = "2f9b1b7d-0000-4000-8000-000000000002"
	h.APIKey = Secret{Env: "KMIP_ADAPTER_HPCS_API_KEY"}
	return h
}

func TestBackendValidateHPCS(t *testing.T) {
	tests := []struct {
		name   string
		change func(b *Backend)
		err    string
	}{
		{"valid", func(*Backend) {}, ""},
		{"HPCS private endpoint", func(b *Backend) {
			b.HPCS.URL = "https://api.private.us-south.hs-crypto.cloud.ibm.com:8992"
			b.HPCS.IAMURL = "https://private.iam.cloud.ibm.com/identity/token"
		}, ""},
		{"loopback stand-in over http", func(b *Backend) { b.HPCS.URL = "http://127.0.0.1:8200" }, ""},
		{"localhost stand-in over http", func(b *Backend) { b.HPCS.IAMURL = "http://localhost:8200/identity/token" }, ""},
		{"remote http refused", func(b *Backend) { b.HPCS.URL = "http://kms.example.com" }, "backend.hpcs.url: \"http://kms.example.com\": plain http only to a loopback host"},
		{"not a URL", func(b *Backend) { b.HPCS.URL = "us-south" }, "backend.hpcs.url: \"us-south\" is not an absolute URL"},
		{"ftp", func(b *Backend) { b.HPCS.IAMURL = "ftp://iam" }, "backend.hpcs.iam_url: \"ftp://iam\": the scheme must be https"},
		{"no URL", func(b *Backend) { b.HPCS.URL = "" }, "backend.hpcs.url: required"},
		{"no instance", func(b *Backend) { b.HPCS.InstanceID = "" }, "backend.hpcs.instance_id: required"},
		{"no root key", func(b *Backend) { b.HPCS.RootKeyID = "" }, "backend.hpcs.root_key_id: required"},
		{"no API key", func(b *Backend) { b.HPCS.APIKey = Secret{} }, "backend.hpcs.api_key: set exactly one"},
		{"API key twice", func(b *Backend) { b.HPCS.APIKey = Secret{File: "/k", Env: "K"} }, "backend.hpcs.api_key: set exactly one"},
		{"bad KEK source", func(b *Backend) { b.HPCS.KEKSource = "hsm" }, `backend.hpcs.kek_source: "hsm" is not kms or local`},
		{"local KEKs", func(b *Backend) { b.HPCS.KEKSource = "local" }, ""},
		{"cache too long", func(b *Backend) { b.HPCS.CacheTTL = 48 * time.Hour }, "backend.hpcs.cache_ttl: 48h0m0s is outside 1s..24h0m0s"},
		{"timeout too short", func(b *Backend) { b.HPCS.Timeout = time.Millisecond }, "backend.hpcs.timeout: 1ms is outside"},
		{"retry max below base", func(b *Backend) { b.HPCS.RetryBase, b.HPCS.RetryMax = time.Second, 10*time.Millisecond }, "backend.hpcs.retry_max: 10ms is below retry_base (1s)"},
		{"too many retries", func(b *Backend) { b.HPCS.Retries = 11 }, "backend.hpcs.retries: 11 is outside 0..10"},
		{"unknown type", func(b *Backend) { b.Type = "vault" }, `backend.type: "vault" is not a known backend (pkcs11, hpcs)`},
		{"both types", func(b *Backend) { b.Types = []string{"pkcs11", "hpcs"}; b.PKCS11 = validPKCS11() }, ""},
		{"both types, pkcs11 invalid", func(b *Backend) { b.Types = []string{"hpcs", "pkcs11"} }, "backend.pkcs11.token_label: required"},
		{"type not among types", func(b *Backend) { b.Types = []string{"pkcs11"}; b.PKCS11 = validPKCS11() }, `backend.type: "hpcs" is not among backend.types [pkcs11]`},
		{"type listed twice", func(b *Backend) { b.Types = []string{"hpcs", "hpcs"} }, `backend.types: "hpcs" is listed twice`},
		{"unknown in types", func(b *Backend) { b.Types = []string{"hpcs", "vault"} }, `backend.types: "vault" is not a known backend`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Default().Backend
			b.Type = "hpcs"
			b.HPCS = validHPCS()
			tt.change(&b)
			err := b.validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestHPCSDefaults(t *testing.T) {
	d := HPCS{}.WithDefaults()
	assert.Equal(t, "https://iam.cloud.ibm.com/identity/token", d.IAMURL)
	assert.Equal(t, "kms", d.KEKSource)
	assert.Equal(t, 5*time.Minute, d.CacheTTL)
	assert.Equal(t, 3, d.Retries)
	assert.Equal(t, 5, d.BreakerThreshold)
	kept := HPCS{CacheTTL: time.Minute, Retries: 1}.WithDefaults()
	assert.Equal(t, time.Minute, kept.CacheTTL)
	assert.Equal(t, 1, kept.Retries)
}
