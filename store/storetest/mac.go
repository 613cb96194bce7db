package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// testRecordMAC: the store keeps an object's MAC as given, on create and
// on each update, and returns it from GetObject and ListObjects; a record
// without one comes back without one.
func testRecordMAC(t *testing.T, s store.Store) {
	ctx := context.Background()
	mac1, mac2 := bytes.Repeat([]byte{0xa1}, 16), bytes.Repeat([]byte{0xb2}, 32)
	o := &store.Object{TenantID: "tenant-mac", ID: "with-mac", ObjectType: typeSymmetricKey, State: statePreActive,
		Attributes: []byte{1, 2, 3}, MAC: bytes.Clone(mac1)}
	require.NoError(t, s.CreateObject(ctx, o))
	o.MAC[0] = 0 // the store keeps its own copy
	got, err := s.GetObject(ctx, "tenant-mac", "with-mac")
	require.NoError(t, err)
	assert.Equal(t, mac1, got.MAC)

	got.MAC = bytes.Clone(mac2)
	require.NoError(t, s.UpdateObject(ctx, got))
	again, err := s.GetObject(ctx, "tenant-mac", "with-mac")
	require.NoError(t, err)
	assert.Equal(t, mac2, again.MAC)
	list, err := s.ListObjects(ctx, store.ListQuery{TenantID: "tenant-mac"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, mac2, list[0].MAC)

	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "tenant-mac", ID: "no-mac"}))
	none, err := s.GetObject(ctx, "tenant-mac", "no-mac")
	require.NoError(t, err)
	assert.Empty(t, none.MAC)
}
