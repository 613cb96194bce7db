package kmsdev_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
)

// TestFaultsEndpoint: POST /kmsdev/faults sets and clears faults.
func TestFaultsEndpoint(t *testing.T) {
	kms, srv := start(t)
	c := newClient(t, srv, kms, kms.InstanceID())
	ctx := context.Background()
	_, err := c.GetKeys(ctx, 0, 0) // token before the fault
	require.NoError(t, err)

	tests := []struct {
		name, body string
		status     int
	}{
		{"503 for the next 3 requests", `{"status":503,"count":3}`, http.StatusNoContent},
		{"bad status", `{"status":200}`, http.StatusBadRequest},
		{"bad duration", `{"status":503,"for":"soon"}`, http.StatusBadRequest},
		{"not JSON", `status=503`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := srv.Client().Post(srv.URL+"/kmsdev/faults", "application/json", strings.NewReader(tt.body))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
	before := kms.Count("list")
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v2/keys", nil)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
	assert.Equal(t, before+3, kms.Count("list"))
	_, err = c.GetKeys(ctx, 0, 0)
	require.NoError(t, err, "the fault is spent after 3 requests")

	resp, err := srv.Client().Post(srv.URL+"/kmsdev/faults", "application/json", strings.NewReader(`{"status":429}`))
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = srv.Client().Post(srv.URL+"/kmsdev/faults", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	_, err = c.GetKeys(ctx, 0, 0)
	require.NoError(t, err, "an empty document clears the faults")
}

// TestInfoEndpoint: GET /kmsdev/info tells a loopback client how to
// configure the backend against the stand-in.
func TestInfoEndpoint(t *testing.T) {
	kms, srv := start(t)
	root := kms.CreateRootKey("root")
	resp, err := srv.Client().Get(srv.URL + "/kmsdev/info")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var info kmsdev.Info
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	assert.Equal(t, kmsdev.Info{InstanceID: kms.InstanceID(), APIKey: kms.APIKey(), RootKeys: []string{root}, IAMPath: "/identity/token"}, info)
}
