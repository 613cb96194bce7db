package kmsdev_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	kp "github.com/IBM/keyprotect-go-client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
)

// The contract test: IBM's own client (keyprotect-go-client v0.16.0)
// drives the stand-in, so the stand-in cannot drift from what the real
// client sends and expects (paths, headers, envelopes, error shape).

func newClient(t *testing.T, srv *httptest.Server, kms *kmsdev.Server, instance string) *kp.Client {
	t.Helper()
	c, err := kp.New(kp.ClientConfig{
		BaseURL:    srv.URL,
		TokenURL:   srv.URL + "/identity/token",
		APIKey:     kms.APIKey(),
		InstanceID: instance,
		Verbose:    kp.VerboseNone,
	}, srv.Client().Transport)
	require.NoError(t, err)
	return c
}

func start(t *testing.T) (*kmsdev.Server, *httptest.Server) {
	kms, err := kmsdev.New(kmsdev.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(kms)
	t.Cleanup(srv.Close)
	return kms, srv
}

// kpError asserts err is the client's *kp.Error with this status and
// reason code.
func kpError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var e *kp.Error
	require.True(t, errors.As(err, &e), "want *kp.Error, got %T: %v", err, err)
	assert.Equal(t, status, e.StatusCode, e.Message)
	require.NotEmpty(t, e.Reasons, "the error carries reasons")
	assert.Equal(t, code, e.Reasons[0].Code)
	assert.Contains(t, e.Message, code, "errorMsg names the reason code")
}

func TestContractKeyLifecycle(t *testing.T) {
	kms, srv := start(t)
	c := newClient(t, srv, kms, kms.InstanceID())
	ctx := context.Background()

	root, err := c.CreateRootKey(ctx, "tenant-root", nil)
	require.NoError(t, err)
	require.NotEmpty(t, root.ID)
	assert.False(t, root.Extractable)
	assert.Equal(t, kmsdev.StateActive, root.State)
	require.NotNil(t, root.KeyVersion)

	got, err := c.GetKey(ctx, root.ID)
	require.NoError(t, err)
	assert.Equal(t, "tenant-root", got.Name)

	std, err := c.CreateStandardKey(ctx, "standard", nil)
	require.NoError(t, err)
	assert.True(t, std.Extractable)
	assert.NotEmpty(t, std.Payload, "a standard key's material comes back on create")

	keys, err := c.GetKeys(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, keys.Metadata.NumberOfKeys)
	assert.Len(t, keys.Keys, 2)

	aad := []string{"tenant=a", "purpose=kek"}
	// Wrap with no plaintext: the KMS makes the key.
	dek, wrapped, err := c.WrapCreateDEK(ctx, root.ID, &aad)
	require.NoError(t, err)
	plain, err := base64.StdEncoding.DecodeString(string(dek))
	require.NoError(t, err)
	assert.Len(t, plain, 32)

	// Wrap given plaintext, with key version.
	mine := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	res, err := c.WrapV2(ctx, root.ID, []byte(mine), &aad)
	require.NoError(t, err)
	require.NotNil(t, res.KeyVersion)
	assert.Equal(t, root.KeyVersion.ID, res.KeyVersion.ID)

	pt, rewrapped, err := c.UnwrapV2(ctx, root.ID, wrapped, &aad)
	require.NoError(t, err)
	assert.Equal(t, dek, pt)
	assert.Empty(t, rewrapped, "no rewrap before a rotation")

	// The AAD is authenticated.
	other := []string{"tenant=b", "purpose=kek"}
	_, _, err = c.UnwrapV2(ctx, root.ID, wrapped, &other)
	kpError(t, err, http.StatusUnprocessableEntity, "UNPROCESSABLE_CIPHERTEXT_ERR")
	_, _, err = c.UnwrapV2(ctx, root.ID, wrapped, nil)
	kpError(t, err, http.StatusUnprocessableEntity, "UNPROCESSABLE_CIPHERTEXT_ERR")

	// Rotation keeps the old version for unwrap and answers with the key
	// rewrapped by the new one.
	require.NoError(t, c.Rotate(ctx, root.ID, ""))
	rotated, err := c.GetKey(ctx, root.ID)
	require.NoError(t, err)
	require.NotEqual(t, root.KeyVersion.ID, rotated.KeyVersion.ID)
	require.NotNil(t, rotated.LastRotateDate)
	pt, rewrapped, err = c.UnwrapV2(ctx, root.ID, wrapped, &aad)
	require.NoError(t, err)
	assert.Equal(t, dek, pt, "old ciphertext still opens after rotation")
	require.NotEmpty(t, rewrapped, "unwrap of an old-version ciphertext answers with the rewrapped key")
	pt, again, err := c.UnwrapV2(ctx, root.ID, rewrapped, &aad)
	require.NoError(t, err)
	assert.Equal(t, dek, pt)
	assert.Empty(t, again, "the rewrapped ciphertext is on the latest version")

	// Standard keys do not wrap.
	_, err = c.Wrap(ctx, std.ID, []byte(mine), nil)
	kpError(t, err, http.StatusBadRequest, "KEY_ROOT_REQ_ERR")

	// Disable: 409 on wrap and unwrap; enable restores.
	require.NoError(t, c.DisableKey(ctx, root.ID))
	disabled, err := c.GetKey(ctx, root.ID)
	require.NoError(t, err)
	assert.Equal(t, kmsdev.StateSuspended, disabled.State)
	_, _, err = c.UnwrapV2(ctx, root.ID, rewrapped, &aad)
	kpError(t, err, http.StatusConflict, "KEY_ACTION_INVALID_STATE_ERR")
	_, err = c.Wrap(ctx, root.ID, []byte(mine), &aad)
	kpError(t, err, http.StatusConflict, "KEY_ACTION_INVALID_STATE_ERR")
	kpError(t, c.DisableKey(ctx, root.ID), http.StatusConflict, "KEY_ACTION_INVALID_STATE_ERR")
	require.NoError(t, c.EnableKey(ctx, root.ID))
	kpError(t, c.EnableKey(ctx, root.ID), http.StatusConflict, "KEY_ACTION_INVALID_STATE_ERR")
	pt, _, err = c.UnwrapV2(ctx, root.ID, rewrapped, &aad)
	require.NoError(t, err)
	assert.Equal(t, dek, pt)

	// Unknown and deleted keys.
	_, err = c.GetKey(ctx, "00000000-0000-0000-0000-000000000000")
	kpError(t, err, http.StatusNotFound, "KEY_NOT_FOUND_ERR")
	_, err = c.DeleteKey(ctx, std.ID, kp.ReturnMinimal)
	require.NoError(t, err)
	_, err = c.Wrap(ctx, std.ID, []byte(mine), nil)
	kpError(t, err, http.StatusGone, "KEY_DELETED_ERR")
}

func TestContractAuthentication(t *testing.T) {
	kms, srv := start(t)
	ctx := context.Background()

	wrongInstance := newClient(t, srv, kms, "11111111-2222-3333-4444-555555555555")
	_, err := wrongInstance.GetKeys(ctx, 0, 0)
	kpError(t, err, http.StatusUnauthorized, "UNAUTHORIZED_ERR")

	bad, err := kp.New(kp.ClientConfig{
		BaseURL: srv.URL, TokenURL: srv.URL + "/identity/token", APIKey: "not-a-key", InstanceID: kms.InstanceID(),
	}, srv.Client().Transport)
	require.NoError(t, err)
	_, err = bad.GetKeys(ctx, 0, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BXNIM0415E", "IAM's error code for an unknown API key")

	// A forged token is refused.
	forged, err := kp.New(kp.ClientConfig{
		BaseURL: srv.URL, Authorization: "Bearer forged", InstanceID: kms.InstanceID(),
	}, srv.Client().Transport)
	require.NoError(t, err)
	_, err = forged.GetKeys(ctx, 0, 0)
	kpError(t, err, http.StatusUnauthorized, "UNAUTHORIZED_ERR")
}

func TestContractKeyRing(t *testing.T) {
	kms, srv := start(t)
	ctx := context.Background()
	c := newClient(t, srv, kms, kms.InstanceID())
	c.Config.KeyRing = "ring-a"
	k, err := c.CreateRootKey(ctx, "in-ring-a", nil)
	require.NoError(t, err)
	assert.Equal(t, "ring-a", k.KeyRingID)

	c.Config.KeyRing = "ring-b"
	_, err = c.GetKey(ctx, k.ID)
	kpError(t, err, http.StatusNotFound, "KEY_NOT_FOUND_ERR")
	c.Config.KeyRing = ""
	_, err = c.GetKey(ctx, k.ID)
	require.NoError(t, err, "without the header any ring is searched")
}

func TestContractImportToken(t *testing.T) {
	kms, srv := start(t)
	ctx := context.Background()
	c := newClient(t, srv, kms, kms.InstanceID())
	meta, err := c.CreateImportToken(ctx, 600, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, meta.MaxAllowedRetrievals)
	tok, err := c.GetImportTokenTransportKey(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.Payload)
	assert.NotEmpty(t, tok.Nonce)
}

// TestContractRetriesInjectedFaults: the client's own retry policy (429
// and 5xx) rides out injected faults; a persistent 503 reaches it in the
// error envelope.
func TestContractRetriesInjectedFaults(t *testing.T) {
	kms, srv := start(t)
	ctx := context.Background()
	c := newClient(t, srv, kms, kms.InstanceID())
	root, err := c.CreateRootKey(ctx, "root", nil)
	require.NoError(t, err)

	kms.SetFaults(kmsdev.Faults{Status: http.StatusTooManyRequests, Count: 1})
	before := kms.Count("wrap")
	_, err = c.Wrap(ctx, root.ID, []byte(base64.StdEncoding.EncodeToString([]byte("k"))), nil)
	require.NoError(t, err)
	assert.Equal(t, 2, kms.Count("wrap")-before, "one 429, then served")

	kms.SetFaults(kmsdev.Faults{Status: http.StatusServiceUnavailable})
	prev := kp.RetryMax
	kp.RetryMax = 0
	t.Cleanup(func() { kp.RetryMax = prev })
	_, err = c.GetKey(ctx, root.ID)
	kpError(t, err, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE_ERR")
	kms.SetFaults(kmsdev.Faults{})
	_, err = c.GetKey(ctx, root.ID)
	require.NoError(t, err)

	kms.SetFaults(kmsdev.Faults{Latency: 150 * time.Millisecond})
	began := time.Now()
	_, err = c.GetKey(ctx, root.ID)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(began), 150*time.Millisecond)
}

// TestLegacyActionForm: POST /keys/{id}?action=wrap is the same action.
func TestLegacyActionForm(t *testing.T) {
	kms, srv := start(t)
	id := kms.CreateRootKey("root")
	c := newClient(t, srv, kms, kms.InstanceID())
	ctx := context.Background()
	_, wrapped, err := c.WrapCreateDEK(ctx, id, nil)
	require.NoError(t, err)
	tok := token(t, srv, kms)
	body := `{"ciphertext":"` + string(wrapped) + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/keys/"+id+"?action=unwrap", stringsReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("bluemix-instance", kms.InstanceID())
	req.Header.Set("Content-Type", "application/vnd.ibm.kms.key_action+json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, kms.Count("unwrap"))
}

// TestStateFile: keys (and their versions) survive a restart of the
// stand-in that keeps a state file; a ciphertext made before opens after.
func TestStateFile(t *testing.T) {
	path := t.TempDir() + "/kms.json"
	kms, err := kmsdev.New(kmsdev.Config{StateFile: path})
	require.NoError(t, err)
	root := kms.CreateRootKey("root")
	srv := httptest.NewServer(kms)
	c := newClient(t, srv, kms, kms.InstanceID())
	ctx := context.Background()
	dek, wrapped, err := c.WrapCreateDEK(ctx, root, nil)
	require.NoError(t, err)
	require.NoError(t, c.Rotate(ctx, root, ""))
	require.NoError(t, c.DisableKey(ctx, root))
	srv.Close()

	again, err := kmsdev.New(kmsdev.Config{StateFile: path})
	require.NoError(t, err)
	assert.Equal(t, kms.InstanceID(), again.InstanceID())
	assert.Equal(t, kms.APIKey(), again.APIKey())
	assert.Equal(t, []string{root}, again.RootKeyIDs())
	srv2 := httptest.NewServer(again)
	t.Cleanup(srv2.Close)
	c2 := newClient(t, srv2, again, again.InstanceID())
	_, _, err = c2.UnwrapV2(ctx, root, wrapped, nil)
	kpError(t, err, http.StatusConflict, "KEY_ACTION_INVALID_STATE_ERR")
	require.NoError(t, c2.EnableKey(ctx, root))
	pt, rewrapped, err := c2.UnwrapV2(ctx, root, wrapped, nil)
	require.NoError(t, err)
	assert.Equal(t, dek, pt)
	assert.NotEmpty(t, rewrapped, "the rotation was kept")
}
