package cli

import (
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExampleConfigurations: the shipped examples load.
func TestExampleConfigurations(t *testing.T) {
	for _, name := range []string{"softhsm2.yaml", "luna.yaml", "luna-ha.yaml"} {
		cfg, err := LoadConfig("../../../packaging/examples/"+name, pflag.NewFlagSet("x", pflag.ContinueOnError), nil)
		require.NoError(t, err, name)
		assert.Equal(t, "pkcs11", cfg.Backend.Type, name)
	}
	cfg, err := LoadConfig("../../../packaging/examples/luna.yaml", pflag.NewFlagSet("x", pflag.ContinueOnError), nil)
	require.NoError(t, err)
	assert.Equal(t, "luna", cfg.Backend.PKCS11.Mechanisms.Profile)
	assert.Equal(t, "registry", cfg.Registry.Mode)
	assert.Equal(t, "127.0.0.1:5697", cfg.Admin.Listen)
	ha, err := LoadConfig("../../../packaging/examples/luna-ha.yaml", pflag.NewFlagSet("x", pflag.ContinueOnError), nil)
	require.NoError(t, err)
	members, err := ha.Backend.PKCS11.MemberSet()
	require.NoError(t, err)
	require.Len(t, members, 2)
	assert.Equal(t, "kmip-part-b", members[1].TokenLabel)
	assert.Equal(t, "/usr/safenet/lunaclient/lib/libCryptoki2_64.so", members[1].Module)
	assert.Equal(t, "luna", ha.Backend.PKCS11.Mechanisms.Profile)
	for _, name := range []string{"hpcs.yaml", "keyprotect.yaml", "mixed.yaml"} {
		cfg, err := LoadConfig("../../../packaging/examples/"+name, pflag.NewFlagSet("x", pflag.ContinueOnError), nil)
		require.NoError(t, err, name)
		assert.Equal(t, "hpcs", cfg.Backend.Type, name)
		assert.NotEmpty(t, cfg.Backend.HPCS.RootKeyID, name)
		if name == "mixed.yaml" {
			assert.Equal(t, []string{"pkcs11", "hpcs"}, cfg.Backend.EnabledTypes())
		}
	}
}
