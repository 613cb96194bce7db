package hpcs

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// client is a small client of the KMS API (Key Protect and HPCS share
// it): the few calls the backend needs, with the IAM token cached and
// refreshed before it expires, bounded retries with backoff and jitter on
// 429 and 5xx, and a circuit breaker. keyprotect-go-client is not used
// here (it drives the stand-in in the contract test instead): its retry
// limits are package globals shared by every client, its IAM token fetch
// takes no context (a dead IAM endpoint holds a KMIP request for minutes),
// it has no circuit breaker, and it prints to stdout on some errors.
type client struct {
	base       *url.URL // .../api/v2/
	iamURL     string
	instanceID string
	keyRing    string
	apiKey     string
	http       *http.Client
	timeout    time.Duration // per attempt
	retry      retryPolicy
	breaker    *breaker
	metrics    *kmsMetrics
	// answered is when the KMS last answered (any status that shows it
	// alive), in Unix nanoseconds: readiness needs no call while recent.
	answered atomic.Int64

	tokenMu  sync.Mutex
	token    string
	tokenExp time.Time
	refresh  time.Time // refresh after this, before expiry
	now      func() time.Time
}

type retryPolicy struct {
	attempts int           // total tries, at least 1
	base     time.Duration // first backoff
	max      time.Duration // cap of one backoff
}

// APIError is an answer of the KMS API (or IAM) that is not a success:
// its HTTP status and the first reason code of the error envelope.
type APIError struct {
	Service       string // "KMS" or "IAM"
	Status        int
	Code          string // e.g. KEY_ACTION_INVALID_STATE_ERR, BXNIM0415E
	Message       string // the service's errorMsg (never carries key material)
	CorrelationID string
	// RetryAfter is what a 429 or 503 asked to wait, if it said.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = "no reason code"
	}
	msg := fmt.Sprintf("%s answered %d %s: %s", e.Service, e.Status, code, e.Message)
	if e.CorrelationID != "" {
		msg += " (correlation-id " + e.CorrelationID + ")"
	}
	return msg
}

// retryable: throttling and server errors (501 is a permanent "not
// implemented").
func (e *APIError) retryable() bool {
	return e.Status == http.StatusTooManyRequests || (e.Status >= 500 && e.Status != http.StatusNotImplemented)
}

// Unwrap maps the answer onto the backend's sentinel errors.
func (e *APIError) Unwrap() error {
	switch {
	case e.retryable():
		return backend.ErrUnavailable
	case e.Status == http.StatusUnprocessableEntity && e.Code == "UNPROCESSABLE_CIPHERTEXT_ERR":
		return backend.ErrIntegrity
	case e.Status == http.StatusNotFound, e.Status == http.StatusGone, e.Status == http.StatusConflict,
		e.Code == "KEY_ROOT_REQ_ERR", e.Code == "KEY_INVALID_STATE_ERR":
		// Deleted, disabled, or not a root key: the tenant's root of
		// trust is gone (crypto-shredding) until an operator acts.
		return backend.ErrKeyMissing
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden,
		e.Service == "IAM" && e.Status == http.StatusBadRequest:
		// The API key or the service ID's access to the root key was
		// revoked (or never right): as gone as a disabled key, until an
		// operator acts. Retrying does not help.
		return backend.ErrKeyMissing
	default:
		// Other 4xx: a request this client should not send.
		return backend.ErrUnavailable
	}
}

// keyInfo is what GET /keys/{id} tells the backend.
type keyInfo struct {
	ID          string
	State       int
	Extractable bool
	Version     string
}

type actionResult struct {
	Plaintext        []byte
	Ciphertext       string
	KeyVersion       string
	RewrappedVersion string
}

func newClient(endpoint, iamURL, instanceID, keyRing, apiKey string, timeout time.Duration, retry retryPolicy, br *breaker, transport http.RoundTripper) (*client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/") + "/api/v2/")
	if err != nil {
		return nil, err
	}
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Many tenants' unwraps go to one host at once: keep more than
		// the default two idle connections to it.
		t.MaxIdleConnsPerHost = 32
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		transport = t
	}
	return &client{
		base: u, iamURL: iamURL, instanceID: instanceID, keyRing: keyRing, apiKey: apiKey,
		http: &http.Client{Transport: transport}, timeout: timeout, retry: retry, breaker: br, metrics: newKMSMetrics(), now: time.Now,
	}, nil
}

// wrap encrypts plaintext (nil: the KMS makes a 256-bit key and returns
// it) under the root key's newest version.
func (c *client) wrap(ctx context.Context, keyID string, plaintext []byte, aad []string) (actionResult, error) {
	req := map[string]any{"aad": aad}
	if plaintext != nil {
		req["plaintext"] = base64.StdEncoding.EncodeToString(plaintext)
	}
	return c.action(ctx, keyID, "wrap", req)
}

// unwrap decrypts a ciphertext; after a rotation the result carries the
// ciphertext rewrapped by the newest version.
func (c *client) unwrap(ctx context.Context, keyID, ciphertext string, aad []string) (actionResult, error) {
	return c.action(ctx, keyID, "unwrap", map[string]any{"ciphertext": ciphertext, "aad": aad})
}

// rewrap moves a ciphertext onto the root key's newest version without the
// plaintext leaving the KMS.
func (c *client) rewrap(ctx context.Context, keyID, ciphertext string, aad []string) (actionResult, error) {
	return c.action(ctx, keyID, "rewrap", map[string]any{"ciphertext": ciphertext, "aad": aad})
}

func (c *client) action(ctx context.Context, keyID, action string, body any) (actionResult, error) {
	var out struct {
		Plaintext           string               `json:"plaintext"`
		Ciphertext          string               `json:"ciphertext"`
		KeyVersion          *struct{ ID string } `json:"keyVersion"`
		RewrappedKeyVersion *struct{ ID string } `json:"rewrappedKeyVersion"`
	}
	if err := c.do(ctx, http.MethodPost, "keys/"+url.PathEscape(keyID)+"/actions/"+action, body, &out); err != nil {
		return actionResult{}, err
	}
	res := actionResult{Ciphertext: out.Ciphertext}
	if out.Plaintext != "" {
		pt, err := base64.StdEncoding.DecodeString(out.Plaintext)
		if err != nil {
			return actionResult{}, fmt.Errorf("%s: the KMS answered a plaintext that is not base64: %w", action, backend.ErrUnavailable)
		}
		res.Plaintext = pt
	}
	if out.KeyVersion != nil {
		res.KeyVersion = out.KeyVersion.ID
	}
	if out.RewrappedKeyVersion != nil {
		res.RewrappedVersion = out.RewrappedKeyVersion.ID
	}
	return res, nil
}

func (c *client) getKey(ctx context.Context, keyID string) (keyInfo, error) {
	var out struct {
		Resources []struct {
			ID          string               `json:"id"`
			State       int                  `json:"state"`
			Extractable bool                 `json:"extractable"`
			KeyVersion  *struct{ ID string } `json:"keyVersion"`
		} `json:"resources"`
	}
	if err := c.do(ctx, http.MethodGet, "keys/"+url.PathEscape(keyID)+"/metadata", nil, &out); err != nil {
		return keyInfo{}, err
	}
	if len(out.Resources) != 1 {
		return keyInfo{}, fmt.Errorf("get key: %d resources in the answer: %w", len(out.Resources), backend.ErrUnavailable)
	}
	r := out.Resources[0]
	info := keyInfo{ID: r.ID, State: r.State, Extractable: r.Extractable}
	if r.KeyVersion != nil {
		info.Version = r.KeyVersion.ID
	}
	return info, nil
}

// do runs one API call through the breaker, retrying what may succeed on
// another try. A 401 drops the cached token and tries once more with a
// new one (a token revoked or expired early).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	if err := c.breaker.allow(); err != nil {
		return err
	}
	var last error
	reauthed := false
	for attempt := 0; attempt < c.retry.attempts; attempt++ {
		if attempt > 0 {
			if sleep(ctx, c.backoff(attempt, last)) != nil {
				break
			}
		}
		last = c.once(ctx, method, path, payload, out)
		var apiErr *APIError
		switch {
		case last == nil:
			c.breaker.record(true)
			c.answered.Store(c.now().UnixNano())
			return nil
		case errors.As(last, &apiErr) && apiErr.Status == http.StatusUnauthorized && !reauthed:
			reauthed = true
			c.dropToken()
			attempt-- // a fresh token is not a retry
			continue
		case errors.As(last, &apiErr) && !apiErr.retryable():
			c.breaker.record(true) // the KMS answered: it is alive
			c.answered.Store(c.now().UnixNano())
			return last
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		// The caller gave up (a KMIP client's deadline): that says
		// nothing about the KMS.
		c.breaker.release()
		if last == nil {
			last = fmt.Errorf("KMS %s %s: %w: %w", method, path, backend.ErrUnavailable, ctx.Err())
		}
		return last
	}
	c.breaker.record(false)
	return last
}

// backoff is exponential with full jitter, at least what a Retry-After
// asked for (capped by the policy's max).
func (c *client) backoff(attempt int, last error) time.Duration {
	d := c.retry.base << (attempt - 1)
	if d > c.retry.max || d <= 0 {
		d = c.retry.max
	}
	d = time.Duration(rand.Int64N(int64(d) + 1))
	var apiErr *APIError
	if errors.As(last, &apiErr) && apiErr.RetryAfter > d {
		d = min(apiErr.RetryAfter, c.retry.max)
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// once is a single HTTP exchange with the per-attempt timeout.
func (c *client) once(ctx context.Context, method, path string, payload []byte, out any) error {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u, _ := c.base.Parse(path)
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, u.String(), rd)
	if err != nil {
		return err
	}
	corr := uuid.NewString()
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/vnd.ibm.kms.key_action+json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("bluemix-instance", c.instanceID)
	req.Header.Set("correlation-id", corr)
	if c.keyRing != "" {
		req.Header.Set("x-kms-key-ring", c.keyRing)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.metrics.observe(actionOf(method, path), 0, err, time.Since(start))
		return fmt.Errorf("KMS %s %s (correlation-id %s): %w: %w", method, u.Path, corr, backend.ErrUnavailable, scrub(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.metrics.observe(actionOf(method, path), resp.StatusCode, err, time.Since(start))
	if err != nil {
		return fmt.Errorf("KMS %s %s: read answer: %w: %w", method, u.Path, backend.ErrUnavailable, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || len(data) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("KMS %s %s: answer is not the expected JSON: %w", method, u.Path, backend.ErrUnavailable)
		}
		return nil
	}
	apiErr := parseError(resp.StatusCode, data)
	apiErr.CorrelationID = corr
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			apiErr.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return apiErr
}

// parseError reads the KMS error envelope
// ({"resources":[{"errorMsg":..., "reasons":[{"code":...}]}]}).
func parseError(status int, data []byte) *APIError {
	var env struct {
		Resources []struct {
			ErrorMsg string `json:"errorMsg"`
			Reasons  []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"reasons"`
		} `json:"resources"`
	}
	e := &APIError{Service: "KMS", Status: status, Message: http.StatusText(status)}
	if json.Unmarshal(data, &env) == nil && len(env.Resources) > 0 {
		r := env.Resources[0]
		if r.ErrorMsg != "" {
			e.Message = r.ErrorMsg
		}
		if len(r.Reasons) > 0 {
			e.Code = r.Reasons[0].Code
		}
	}
	return e
}

// scrub drops the URL from a transport error (it holds nothing secret,
// but a *url.Error repeats what the message already says).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// --- IAM token ---

func (c *client) dropToken() {
	c.tokenMu.Lock()
	c.token = ""
	c.tokenMu.Unlock()
}

// accessToken returns a cached IAM token, exchanging the API key for a new
// one once 80% of its life has passed (or it expired). A refresh that
// fails while the old token is still valid keeps the old token.
func (c *client) accessToken(ctx context.Context) (string, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	now := c.now()
	if c.token != "" && now.Before(c.refresh) {
		return c.token, nil
	}
	tok, life, err := c.exchange(ctx)
	if err != nil {
		if c.token != "" && now.Before(c.tokenExp) {
			return c.token, nil
		}
		return "", err
	}
	c.token, c.tokenExp = tok, now.Add(life)
	c.refresh = now.Add(life * 8 / 10)
	return tok, nil
}

// exchange is IAM's API-key grant. Errors name IAM's error code, never
// the API key.
func (c *client) exchange(ctx context.Context) (string, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	form := url.Values{"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {c.apiKey}}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.iamURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.metrics.observe("iam_token", 0, err, time.Since(start))
		return "", 0, fmt.Errorf("IAM token: %w: %w", backend.ErrUnavailable, scrub(err))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	c.metrics.observe("iam_token", resp.StatusCode, nil, time.Since(start))
	if resp.StatusCode != http.StatusOK {
		var iamErr struct {
			ErrorCode    string `json:"errorCode"`
			ErrorMessage string `json:"errorMessage"`
		}
		e := parseError(resp.StatusCode, data) // gateways in front of IAM answer in other shapes
		e.Service = "IAM"
		if json.Unmarshal(data, &iamErr) == nil && iamErr.ErrorCode != "" {
			e.Code, e.Message = iamErr.ErrorCode, iamErr.ErrorMessage
		}
		if s := resp.Header.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
				e.RetryAfter = time.Duration(secs) * time.Second
			}
		}
		return "", 0, e
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" {
		return "", 0, fmt.Errorf("IAM token: answer without access_token: %w", backend.ErrUnavailable)
	}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Minute
	}
	return tok.AccessToken, life, nil
}
