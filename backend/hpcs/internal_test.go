package hpcs

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

func TestBlobRoundTripAndMalformed(t *testing.T) {
	good := tenantBlob{rootKeyID: "root-1", keyVersion: "v-1", ciphertext: "eyJjaXBoZXJ0ZXh0Ijoi"}
	p, err := good.encode()
	require.NoError(t, err)
	back, err := parseBlob(p)
	require.NoError(t, err)
	assert.Equal(t, good, back)

	empty := func(f func(*tenantBlob)) []byte {
		b := good
		f(&b)
		out, err := b.encode()
		require.NoError(t, err)
		return out
	}
	tests := []struct {
		name string
		blob []byte
	}{
		{"nil", nil},
		{"magic only", []byte(blobMagic)},
		{"other magic", append([]byte("PKCSKEK"), p[len(blobMagic):]...)},
		{"unknown version", append(append([]byte(blobMagic), 2), p[len(blobMagic)+1:]...)},
		{"truncated", p[:len(p)-1]},
		{"trailing byte", append(append([]byte{}, p...), 0)},
		{"empty root key id", empty(func(b *tenantBlob) { b.rootKeyID = "" })},
		{"empty version", empty(func(b *tenantBlob) { b.keyVersion = "" })},
		{"empty ciphertext", empty(func(b *tenantBlob) { b.ciphertext = "" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBlob(tt.blob)
			require.ErrorIs(t, err, backend.ErrIntegrity)
		})
	}
}

func TestBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBreaker(2, 10*time.Second)
	b.now = func() time.Time { return now }

	require.NoError(t, b.allow())
	b.record(false)
	require.NoError(t, b.allow(), "one failure is below the threshold")
	b.record(false)
	err := b.allow()
	require.ErrorIs(t, err, backend.ErrUnavailable, "open after two failures in a row")
	assert.Contains(t, err.Error(), "next try in 10s")

	now = now.Add(10 * time.Second)
	require.NoError(t, b.allow(), "after the cooldown one call probes")
	require.ErrorIs(t, b.allow(), backend.ErrUnavailable, "only one probe at a time")
	b.record(false)
	require.ErrorIs(t, b.allow(), backend.ErrUnavailable, "a failed probe opens it again")

	now = now.Add(10 * time.Second)
	require.NoError(t, b.allow())
	b.record(true)
	require.NoError(t, b.allow(), "a good probe closes it")
	require.NoError(t, b.allow())

	b.record(false)
	b.record(true)
	b.record(false)
	require.NoError(t, b.allow(), "failures must be in a row")

	b.record(false)
	now = now.Add(10 * time.Second)
	require.NoError(t, b.allow())
	b.release()
	require.NoError(t, b.allow(), "a released probe lets the next caller probe")
}

func TestBackoff(t *testing.T) {
	c := &client{retry: retryPolicy{attempts: 5, base: 100 * time.Millisecond, max: time.Second}}
	for attempt := 1; attempt <= 6; attempt++ {
		ceiling := min(100*time.Millisecond<<(attempt-1), time.Second)
		for range 50 {
			d := c.backoff(attempt, errors.New("x"))
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
		}
	}
	ra := &APIError{Service: "KMS", Status: http.StatusTooManyRequests, RetryAfter: 700 * time.Millisecond}
	for range 20 {
		assert.GreaterOrEqual(t, c.backoff(1, ra), 700*time.Millisecond, "at least Retry-After")
	}
	ra.RetryAfter = time.Minute
	assert.Equal(t, time.Second, c.backoff(1, ra), "Retry-After capped by retry_max")
}

func TestAPIErrorMapping(t *testing.T) {
	tests := []struct {
		err  APIError
		want error
	}{
		{APIError{Service: "KMS", Status: 429}, backend.ErrUnavailable},
		{APIError{Service: "KMS", Status: 500}, backend.ErrUnavailable},
		{APIError{Service: "KMS", Status: 503}, backend.ErrUnavailable},
		{APIError{Service: "KMS", Status: 501}, backend.ErrUnavailable},
		{APIError{Service: "KMS", Status: 409, Code: "KEY_ACTION_INVALID_STATE_ERR"}, backend.ErrKeyMissing},
		{APIError{Service: "KMS", Status: 410, Code: "KEY_DELETED_ERR"}, backend.ErrKeyMissing},
		{APIError{Service: "KMS", Status: 404, Code: "KEY_NOT_FOUND_ERR"}, backend.ErrKeyMissing},
		{APIError{Service: "KMS", Status: 400, Code: "KEY_ROOT_REQ_ERR"}, backend.ErrKeyMissing},
		{APIError{Service: "KMS", Status: 401, Code: "UNAUTHORIZED_ERR"}, backend.ErrKeyMissing},
		{APIError{Service: "KMS", Status: 403}, backend.ErrKeyMissing},
		{APIError{Service: "IAM", Status: 400, Code: "BXNIM0415E"}, backend.ErrKeyMissing},
		{APIError{Service: "KMS", Status: 422, Code: "UNPROCESSABLE_CIPHERTEXT_ERR"}, backend.ErrIntegrity},
		{APIError{Service: "KMS", Status: 400, Code: "BAD_BODY_ERR"}, backend.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			err := tt.err
			assert.ErrorIs(t, &err, tt.want)
			assert.Equal(t, tt.err.retryable(), tt.err.Status == 429 || (tt.err.Status >= 500 && tt.err.Status != 501))
		})
	}
}
