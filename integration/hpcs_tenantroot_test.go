package integration

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHPCSTenantRoot: on the hpcs backend, a tenant created with a root
// key of its own (`kmipctl tenant create --root`) has its KEK wrapped by
// that key, a tenant without one by root_key_id: disabling the tenant's
// root shreds that tenant only. A root the KMS does not have is refused
// at creation, naming the tenant and the key.
func TestHPCSTenantRoot(t *testing.T) {
	kms, kmsURL := kmsStandIn(t)
	own := kms.CreateRootKey("tenant-own-root")
	s, _ := hpcsServer(t, kmsURL, "--admin-listen", "127.0.0.1:0")
	ts := withAdmin(t, s)

	msg := ts.ctlFails(t, "tenant", "create", "lost", "--root", "00000000-0000-0000-0000-00000000dead")
	assert.Contains(t, msg, `tenant "lost": root key 00000000-0000-0000-0000-00000000dead is not a key this KMS instance knows`)
	ts.ctl(t, "tenant", "create", "own", "--root", own, "--activate-on-create")
	ts.ctl(t, "tenant", "create", "shared", "--activate-on-create")
	certs := t.TempDir()
	ts.ctl(t, "client", "issue", "--tenant", "own", "--name", "o1", "--out", certs)
	ts.ctl(t, "client", "issue", "--tenant", "shared", "--name", "s1", "--out", certs)
	o1, s1 := ts.session(t, issued(t, certs, "o1")), ts.session(t, issued(t, certs, "s1"))
	keyO, keyS := o1.create(), s1.create()
	o1.getKey(keyO)
	s1.getKey(keyS)

	require.NoError(t, kms.Disable(own))
	get := func(w *wireSession, id string) wireResult {
		return w.exchange(wireItem{kmip14.OperationGet, payload(ttlv.NewValue(kmip14.TagUniqueIdentifier, id))})[0]
	}
	require.Eventually(t, func() bool { return get(o1, keyO).ResultStatus != kmip14.ResultStatusSuccess },
		hpcsCacheTTL+3*time.Second, 100*time.Millisecond, "tenant own still served after its root was disabled")
	s1.getKey(keyS) // the other tenant is under root_key_id
	require.NoError(t, kms.Enable(own))
	o1.getKey(keyO)
}
