package backend_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// macingFake MACs records by naming itself, so a test sees which root of
// trust MACed.
type macingFake struct{ fake }

func (m *macingFake) MACRecord(_ context.Context, tenantID string, record []byte) ([]byte, error) {
	return []byte(m.name + "/" + tenantID + "/" + string(record)), nil
}

func (m *macingFake) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error {
	want, _ := m.MACRecord(ctx, tenantID, record)
	if string(want) != string(mac) {
		return backend.ErrIntegrity
	}
	return nil
}

// Records are MACed by the HSM whichever root of trust is the default, so
// that records MACed before a change of backend.type still verify; a
// server with no record MAC key stores records without a MAC and refuses
// to verify one.
func TestRouterRecordMACs(t *testing.T) {
	ctx := context.Background()
	hsm, kms := &macingFake{fake{name: "pkcs11"}}, &fake{name: "hpcs"}
	for _, def := range []string{"pkcs11", "hpcs"} {
		r, err := backend.NewRouter(map[string]backend.Backend{"pkcs11": hsm, "hpcs": kms}, def)
		require.NoError(t, err)
		mac, err := r.MACRecord(ctx, "t", []byte("rec"))
		require.NoError(t, err)
		assert.Equal(t, "pkcs11/t/rec", string(mac), "default %s", def)
		assert.NoError(t, r.VerifyRecord(ctx, "t", []byte("rec"), mac), "default %s", def)
		assert.ErrorIs(t, r.VerifyRecord(ctx, "t", []byte("rex"), mac), backend.ErrIntegrity)
	}

	onlyKMS, err := backend.NewRouter(map[string]backend.Backend{"hpcs": kms, "other": &fake{name: "other"}}, "hpcs")
	require.NoError(t, err)
	mac, err := onlyKMS.MACRecord(ctx, "t", []byte("rec"))
	require.NoError(t, err)
	assert.Nil(t, mac, "no record MAC key: no MAC")
	assert.ErrorIs(t, onlyKMS.VerifyRecord(ctx, "t", []byte("rec"), []byte("x")), backend.ErrKeyMissing)
}

// The record MAC key's KEK (backend.WithRecordMACRoot) is made on the
// root of trust that MACs records, whatever the default; other tenant
// keys go to the default.
func TestRouterRecordMACRoot(t *testing.T) {
	ctx := context.Background()
	hsm, kms := &macingFake{fake{name: "pkcs11"}}, &fake{name: "hpcs"}
	for _, def := range []string{"pkcs11", "hpcs"} {
		r, err := backend.NewRouter(map[string]backend.Backend{"pkcs11": hsm, "hpcs": kms}, def)
		require.NoError(t, err)
		tk, err := r.NewTenantKey(backend.WithRecordMACRoot(ctx), "_recordkey")
		require.NoError(t, err)
		assert.Equal(t, "pkcs11", tk.Type, "default %s", def)
		tk, err = r.NewTenantKey(ctx, "tenant")
		require.NoError(t, err)
		assert.Equal(t, def, tk.Type)
	}
	onlyKMS, err := backend.NewRouter(map[string]backend.Backend{"hpcs": kms, "other": &fake{name: "other"}}, "hpcs")
	require.NoError(t, err)
	tk, err := onlyKMS.NewTenantKey(backend.WithRecordMACRoot(ctx), "_recordkey")
	require.NoError(t, err)
	assert.Equal(t, "hpcs", tk.Type, "no root MACs records: the default")
}
