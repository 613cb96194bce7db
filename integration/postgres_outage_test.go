package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresOutage stops PostgreSQL under a running node. While it is
// down, requests fail at once with a KMIP General Failure that says the
// object store is unavailable, readiness says not ready, and nothing is
// half written; once it is back, the same node (and the same client
// connection) works again without a restart.
func TestPostgresOutage(t *testing.T) {
	e := newPGEnv(t, "outage")
	n := e.node(t, "--metrics-listen", "127.0.0.1:0")
	metrics := metricsAddr(t, n)
	c := ovhDial(t, n, kmip.V1_4)
	usage := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt

	before, err := c.Create().AES(256, usage).WithName("before").Exec()
	require.NoError(t, err)
	_, material := ovhGetKey(t, c, before.UniqueIdentifier, kmip.KeyFormatTypeRaw)
	assert.Equal(t, http.StatusOK, readyz(t, metrics))

	require.NoError(t, e.pg.Stop(), "stop PostgreSQL")

	// Down: every request fails fast, with a reason an operator
	// understands.
	for _, req := range []kmip.OperationPayload{
		createAES("during", usage),
		&payloads.GetRequestPayload{UniqueIdentifier: before.UniqueIdentifier},
		&payloads.LocateRequestPayload{Attribute: []kmip.Attribute{nameAttr("before")}},
		&payloads.ActivateRequestPayload{UniqueIdentifier: before.UniqueIdentifier},
	} {
		start := time.Now()
		bi := ovhResult(t, c, req)
		assert.Equal(t, kmip.ResultStatusOperationFailed, bi.ResultStatus, "%s while the store is down", bi.Operation)
		assert.Equal(t, kmip.ResultReasonGeneralFailure, bi.ResultReason, "%s", bi.Operation)
		assert.Contains(t, bi.ResultMessage, "object store unavailable; retry later", "%s", bi.Operation)
		assert.Less(t, time.Since(start), 5*time.Second, "%s answers at once", bi.Operation)
	}
	assert.Equal(t, http.StatusServiceUnavailable, readyz(t, metrics), "not ready without the store")

	require.NoError(t, e.pg.Start(), "start PostgreSQL again")

	// Back: the same connection works again, without a node restart.
	var after *payloads.CreateResponsePayload
	require.Eventually(t, func() bool {
		after, err = c.Create().AES(256, usage).WithName("after").Exec()
		return err == nil
	}, 15*time.Second, 100*time.Millisecond, "Create after PostgreSQL came back: %v", err)
	_, again := ovhGetKey(t, c, before.UniqueIdentifier, kmip.KeyFormatTypeRaw)
	assert.Equal(t, material, again)
	_, err = c.Activate(before.UniqueIdentifier).Exec()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, readyz(t, metrics))

	// The failed Create wrote nothing; the others are whole.
	stored := e.storedObjects(t, "default")
	assert.Len(t, stored, 2)
	assert.Equal(t, []string{"before"}, stored[before.UniqueIdentifier])
	assert.Equal(t, []string{"after"}, stored[after.UniqueIdentifier])

	// The registry change notifications were lost with the database and
	// are listened for again, by themselves (backoff up to 5 s).
	logged := func(msg string) bool {
		for _, l := range n.log.entries() {
			if l["message"] == msg {
				return true
			}
		}
		return false
	}
	assert.True(t, logged("store change notifications lost; reconnecting (registry changes of other nodes arrive by poll meanwhile)"))
	assert.Eventually(t, func() bool { return logged("store change notifications back") }, 15*time.Second, 100*time.Millisecond,
		"the node never listened again")
}

func createAES(name string, usage kmip.CryptographicUsageMask) kmip.OperationPayload {
	return &payloads.CreateRequestPayload{
		ObjectType: kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
			{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)},
			{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: usage},
			nameAttr(name),
		}},
	}
}

func nameAttr(name string) kmip.Attribute {
	return kmip.Attribute{AttributeName: kmip.AttributeNameName, AttributeValue: kmip.Name{NameValue: name, NameType: kmip.NameTypeUninterpretedTextString}}
}

// metricsAddr is the address of a node's operations listener, from its
// log.
func metricsAddr(t *testing.T, s *server) string {
	t.Helper()
	var addr string
	require.Eventually(t, func() bool {
		for _, l := range s.log.entries() {
			if l["message"] == "metrics listener ready" {
				addr, _ = l["addr"].(string)
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no metrics listener ready line")
	return addr
}

// readyz returns the status of the node's readiness endpoint.
func readyz(t *testing.T, addr string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}
