package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// APIClient calls the admin API (kmipctl's side).
type APIClient struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the admin API at addr (host:port).
func NewClient(addr string, tlsCfg *tls.Config) *APIClient {
	return &APIClient{
		base: "https://" + addr + "/v1",
		hc: &http.Client{
			Timeout:   2 * time.Minute,
			Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true},
		},
	}
}

// APIError is a call the server refused.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

func (c *APIClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin API answer: %w", err)
		}
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

// ListTenants lists every tenant.
func (c *APIClient) ListTenants(ctx context.Context) ([]Tenant, error) {
	var out []Tenant
	return out, c.call(ctx, http.MethodGet, "/tenants", nil, &out)
}

// GetTenant shows one tenant.
func (c *APIClient) GetTenant(ctx context.Context, name string) (Tenant, error) {
	var out Tenant
	return out, c.call(ctx, http.MethodGet, "/tenants/"+esc(name), nil, &out)
}

// CreateTenant creates a tenant and its KEK.
func (c *APIClient) CreateTenant(ctx context.Context, in TenantCreate) (Tenant, error) {
	var out Tenant
	return out, c.call(ctx, http.MethodPost, "/tenants", in, &out)
}

// UpdateTenant changes a tenant.
func (c *APIClient) UpdateTenant(ctx context.Context, name string, in TenantUpdate) (Tenant, error) {
	var out Tenant
	return out, c.call(ctx, http.MethodPatch, "/tenants/"+esc(name), in, &out)
}

// DeleteTenant deletes a tenant that holds no Active object.
func (c *APIClient) DeleteTenant(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/tenants/"+esc(name), nil, nil)
}

// TrustCA adds CA certificates to a tenant's own trusted CAs.
func (c *APIClient) TrustCA(ctx context.Context, name, pem string) (Tenant, error) {
	var out Tenant
	return out, c.call(ctx, http.MethodPost, "/tenants/"+esc(name)+"/trusted-cas", TrustCA{PEM: pem}, &out)
}

// ListClients lists the clients of a tenant ("" for all).
func (c *APIClient) ListClients(ctx context.Context, tenant string) ([]Client, error) {
	var out []Client
	return out, c.call(ctx, http.MethodGet, "/clients?tenant="+url.QueryEscape(tenant), nil, &out)
}

// AddClient registers a client.
func (c *APIClient) AddClient(ctx context.Context, tenant string, in ClientCreate) (Client, error) {
	var out Client
	return out, c.call(ctx, http.MethodPost, "/tenants/"+esc(tenant)+"/clients", in, &out)
}

// UpdateClient changes a client.
func (c *APIClient) UpdateClient(ctx context.Context, tenant, name string, in ClientUpdate) (Client, error) {
	var out Client
	return out, c.call(ctx, http.MethodPatch, "/tenants/"+esc(tenant)+"/clients/"+esc(name), in, &out)
}

// RemoveClient removes a client.
func (c *APIClient) RemoveClient(ctx context.Context, tenant, name string) error {
	return c.call(ctx, http.MethodDelete, "/tenants/"+esc(tenant)+"/clients/"+esc(name), nil, nil)
}

// SignCSR has the server's CA certify a client's CSR and registers it.
func (c *APIClient) SignCSR(ctx context.Context, tenant, name string, in SignRequest) (SignResponse, error) {
	var out SignResponse
	return out, c.call(ctx, http.MethodPost, "/tenants/"+esc(tenant)+"/clients/"+esc(name)+"/certificate", in, &out)
}

// CA returns the certificate KMIP clients trust the server with.
func (c *APIClient) CA(ctx context.Context) (CA, error) {
	var out CA
	return out, c.call(ctx, http.MethodGet, "/ca", nil, &out)
}
