package integration

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// editRecord changes, in the bbolt file at path, the first occurrence of
// from in the record whose key is id (an object record: index keys carry
// more than the identifier), to to (same length), as someone with write
// access to the file would.
func editRecord(t *testing.T, path, id string, from, to []byte) {
	t.Helper()
	require.Len(t, to, len(from))
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer db.Close()
	edited := 0
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(b.Bucket(k))
			}
			if string(k) == id {
				i := bytes.Index(v, from)
				require.GreaterOrEqual(t, i, 0, "the record holds %q", from)
				nv := bytes.Clone(v)
				copy(nv[i:], to)
				edited++
				return b.Put(k, nv)
			}
			return nil
		})
	}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	}))
	require.Equal(t, 1, edited, "one record edited")
}

// TestEditedRecordIsRefused: one attribute byte of a key's record is
// changed in the store file while the server is stopped. Restarted, the
// server refuses to serve that key (General Failure, error logged and
// audited) and still serves the others; `kmipctl store verify` names the
// record and exits 1, and passes on the untouched store.
func TestEditedRecordIsRefused(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	defer func() { _, _, _ = s.stop(stopTimeout) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	create := func(s *server, note string) string {
		conn, err := client.Dial(ctx, s.addr, s.clientTLS(t), client.Options{Version: message.V2_0})
		require.NoError(t, err)
		defer conn.Close()
		id, err := conn.Create(ctx, kmip14.ObjectTypeSymmetricKey, append(client.AESKey(256, kmip14.CryptographicUsageMaskEncrypt),
			client.Text("x-note", note)))
		require.NoError(t, err)
		return id
	}
	victim := create(s, "tamper-target-AAAAAAAAAAAAAAAA")
	bystander := create(s, "bystander")
	verify := func() (string, error) {
		cmd := exec.Command(bin(t, "kmipctl"), "store", "verify", "--config", filepath.Join(dir, "config.yaml"))
		cmd.Env = environ()
		out, err := runWithTimeout(cmd, cmdTimeout)
		return string(out), err
	}
	_, err = s.stopCleanly()
	require.NoError(t, err)
	out, err := verify()
	require.NoError(t, err, out)
	assert.Contains(t, out, "0 TAMPERED")

	editRecord(t, s.storePath(), victim, []byte("AAAAAAAAAAAAAAAA"), []byte("AAAAAAAABAAAAAAA"))
	out, err = verify()
	require.Error(t, err, out)
	assert.Contains(t, out, "TAMPERED tenant=")
	assert.Contains(t, out, "object="+victim)
	assert.NotContains(t, out, "object="+bystander)

	s, err = startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	conn, err := client.Dial(ctx, s.addr, s.clientTLS(t), client.Options{Version: message.V2_0})
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Get(ctx, victim)
	require.Error(t, err)
	assert.Equal(t, kmip20.ResultReasonGeneralFailure, reasonOf(err), "%v", err)
	assert.Contains(t, err.Error(), "integrity")
	_, err = conn.Get(ctx, bystander)
	require.NoError(t, err, "the other records are served")
	_, err = conn.Call(ctx, kmip20.OperationGetAttributes, struct{ UniqueIdentifier string }{victim})
	assert.Equal(t, kmip20.ResultReasonGeneralFailure, reasonOf(err), "attributes of the edited record are not served either: %v", err)
	assert.True(t, s.loggedSoon("stored record failed its MAC check: not served (kmipctl store verify lists such records)"), "logged")
	_, err = s.stopCleanly()
	require.NoError(t, err)

	refused := false
	for _, r := range auditShow(t, dir) {
		if r.UniqueID == victim && r.Operation == "Get" && r.Result == "GeneralFailure" && strings.Contains(r.Reason, "integrity") {
			refused = true
		}
	}
	assert.True(t, refused, "the refused Get is in the audit trail")
}
