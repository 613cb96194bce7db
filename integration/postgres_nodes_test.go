package integration

import (
	"context"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	gttlv "github.com/gemalto/kmip-go/ttlv"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
)

// TestPostgresTwoNodes runs two kmip-adapter processes on one PostgreSQL
// database and one SoftHSM2 token, as an active-active pair: what one node
// does, the other sees at once. A key created on node A is read, located,
// changed, revoked and destroyed through node B, and node A sees each step.
func TestPostgresTwoNodes(t *testing.T) {
	e := newPGEnv(t, "twonodes")
	a := e.node(t)
	b := e.node(t)
	require.NotEqual(t, a.addr, b.addr)
	ca, cb := ovhDial(t, a, kmip.V1_4), ovhDial(t, b, kmip.V1_4)
	ctx := context.Background()

	usage := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt
	created, err := ca.Create().AES(256, usage).WithName("shared-key").Exec()
	require.NoError(t, err, "Create on node A")
	id := created.UniqueIdentifier

	// Read on B: the same key material, unsealed by B's own session on
	// the shared token with the tenant key A made.
	_, onA := ovhGetKey(t, ca, id, kmip.KeyFormatTypeRaw)
	_, onB := ovhGetKey(t, cb, id, kmip.KeyFormatTypeRaw)
	assert.Equal(t, onA, onB, "both nodes hand out the same key")

	// Located on B, by name and by state.
	found, err := cb.Locate().WithName("shared-key").Exec()
	require.NoError(t, err, "Locate on node B")
	assert.Equal(t, []string{id}, found.UniqueIdentifier)

	// Changed on B, seen on A.
	_, err = cb.AddAttribute(id, "x-Owner", "node-b").Exec()
	require.NoError(t, err, "AddAttribute on node B")
	_, err = cb.Activate(id).Exec()
	require.NoError(t, err, "Activate on node B")
	attrs, err := ca.GetAttributes(id, kmip.AttributeNameState, "x-Owner").Exec()
	require.NoError(t, err, "GetAttributes on node A")
	got := map[kmip.AttributeName]any{}
	for _, a := range attrs.Attribute {
		got[a.AttributeName] = a.AttributeValue
	}
	assert.Equal(t, kmip.StateActive, got[kmip.AttributeNameState], "A sees B's Activate")
	owner, _ := got["x-Owner"].(ttlv.Value)
	assert.Equal(t, "node-b", owner.Value, "A sees B's attribute")
	found, err = ca.Locate().WithAttribute(kmip.AttributeNameState, kmip.StateActive).WithName("shared-key").Exec()
	require.NoError(t, err)
	assert.Equal(t, []string{id}, found.UniqueIdentifier, "A locates it by the state B gave it")

	// Revoked and destroyed on B: gone on A.
	_, err = cb.Revoke(id).WithRevocationReasonCode(kmip.RevocationReasonCodeCessationOfOperation).Exec()
	require.NoError(t, err, "Revoke on node B")
	_, err = cb.Destroy(id).Exec()
	require.NoError(t, err, "Destroy on node B")
	bi := ovhResult(t, ca, &payloads.GetRequestPayload{UniqueIdentifier: id})
	assert.Equal(t, kmip.ResultStatusOperationFailed, bi.ResultStatus, "Get on A after Destroy on B")
	assert.Equal(t, kmip.ResultReasonItemNotFound, bi.ResultReason, bi.ResultMessage)

	// Both nodes agreed on one tenant key: one record, made by whichever
	// node came first; and on one record MAC key (kmip/ops recordkey.go):
	// its internal tenant and its sealed key, one record each.
	var tenants, recordKeys int
	require.NoError(t, e.conn(t).QueryRow(ctx, "SELECT count(*) FROM kmip_tenants WHERE id <> $1", ops.RecordKeyTenant).Scan(&tenants))
	assert.Equal(t, 1, tenants)
	require.NoError(t, e.conn(t).QueryRow(ctx, "SELECT (SELECT count(*) FROM kmip_tenants WHERE id = $1) + (SELECT count(*) FROM kmip_objects WHERE tenant_id = $1)",
		ops.RecordKeyTenant).Scan(&recordKeys))
	assert.Equal(t, 2, recordKeys)

	t.Run("VCenterKeyProvider", func(t *testing.T) { vcenterOnTwoNodes(t, a, b) })
}

// vcenterOnTwoNodes is vCenter's conversation (see TestVCenterConversation)
// against a key provider of two servers: the key is created and tagged on
// one, and the other, which a host may ask at boot, serves it Active with
// its tags and the same material.
func vcenterOnTwoNodes(t *testing.T, a, b *server) {
	vcA := openWire(t, a, "vcenter", 1, 1)
	id := vcA.create()
	added := []sentAttr{
		custom("x-Product_Version", "7.0.3"),
		custom("x-Vendor", "VMware, Inc."),
		custom("x-Product", "VMware vSphere"),
	}
	items := make([]wireItem, len(added))
	for i, at := range added {
		items[i] = wireItem{kmip14.OperationAddAttribute, payload(
			gttlv.NewValue(kmip14.TagUniqueIdentifier, id), at.wire(false))}
	}
	for i, r := range vcA.exchange(items...) {
		assert.Equal(t, kmip14.ResultStatusSuccess, r.ResultStatus, "Add Attribute %s on node A: %s\n%s", added[i].name, r.ResultMessage, vcA.last)
	}
	onA := vcA.getKey(id)

	vcB := openWire(t, b, "vcenter", 1, 1)
	attrs := byName(vcB.getAttributes(id, append([]sentAttr{std(kmip14.TagState, nil)}, added...)...))
	if assert.Len(t, attrs["State"], 1, "State on node B\n%s", vcB.last) {
		assert.Equal(t, uint32(kmip14.StateActive), enumValue(attrs["State"][0]), "Active on node B\n%s", vcB.last)
	}
	for _, at := range added {
		vcB.assertAttr(attrs, at)
	}
	assert.Equal(t, onA, vcB.getKey(id), "both servers of the key provider hand out the same key")
}
