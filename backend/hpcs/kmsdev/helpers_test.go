package kmsdev_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// token asks the stand-in's IAM endpoint for an access token.
func token(t *testing.T, srv *httptest.Server, kms *kmsdev.Server) string {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.URL+"/identity/token", url.Values{
		"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {kms.APIKey()},
	})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, "Bearer", out.TokenType)
	require.Positive(t, out.ExpiresIn)
	return out.AccessToken
}
