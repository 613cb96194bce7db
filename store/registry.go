package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Tenant status values. A tenant made on first use by the configured
// single-tenant identity (server.tenant) has an empty Status.
const (
	TenantEnabled  = "enabled"
	TenantDisabled = "disabled"
)

// TenantSettings are a tenant's administrative settings.
type TenantSettings struct {
	// Status is TenantEnabled or TenantDisabled ("" for a tenant the admin
	// API never touched). A disabled tenant's clients are refused.
	Status string `json:"status,omitempty"`
	// Root names the root key in the tenant's backend that protects its
	// KEK ("" for the backend's configured default).
	Root string `json:"root,omitempty"`
	// Policy is what the tenant's clients may and must do.
	Policy TenantPolicy `json:"policy"`
	// TrustedCAs are PEM CA certificates (vCenter's VMCA root, for
	// example) that the tenant trusts besides the server's client CA. A
	// certificate that chains only to them maps only to this tenant.
	TrustedCAs []string `json:"trusted_cas,omitempty"`
}

// TenantPolicy is a tenant's client policy.
type TenantPolicy struct {
	// ActivateOnCreate makes created and registered objects Active at once
	// (vCenter never calls Activate).
	ActivateOnCreate bool `json:"activate_on_create,omitempty"`
	// AllowNoClientAuthEKU accepts client certificates whose Extended Key
	// Usage lacks clientAuth (vCenter 6.5's self-signed certificates).
	AllowNoClientAuthEKU bool `json:"allow_no_client_auth_eku,omitempty"`
	// RequireCredential makes every request carry a KMIP Credential
	// (username and password) that matches the client's.
	RequireCredential bool `json:"require_credential,omitempty"`
	// AllowedOperations, when not empty, are the only KMIP operations the
	// tenant's clients may call, by their specification names ("Get",
	// "Locate", "DiscoverVersions", ...).
	AllowedOperations []string `json:"allowed_operations,omitempty"`
}

// EncodeTenantSettings is how stores keep the settings: JSON, so that a
// later field needs no schema change.
func EncodeTenantSettings(s TenantSettings) []byte {
	b, err := json.Marshal(s)
	if err != nil { // plain strings and bools cannot fail
		panic(err)
	}
	return b
}

// DecodeTenantSettings reads what EncodeTenantSettings wrote; nil or empty
// input is the zero value.
func DecodeTenantSettings(b []byte) (TenantSettings, error) {
	var s TenantSettings
	if len(b) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("tenant settings: %w", err)
	}
	return s, nil
}

// Client is a registered KMIP client: a certificate that maps to exactly
// one tenant.
type Client struct {
	TenantID string `json:"tenant"`
	// Name is unique within the tenant.
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Fingerprint, when set, is the client certificate's "sha256:HEX"
	// (lower-case hex of the SHA-256 of the DER certificate). It is
	// unique across every tenant.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Match, when Fingerprint is empty, selects certificates by their
	// content: every field that is set must hold.
	Match MatchRule `json:"match,omitempty"`
	// Credential, when set, is the KMIP Credential the client may (and
	// under the tenant's RequireCredential policy must) send.
	Credential *Credential `json:"credential,omitempty"`
	Revision   uint64      `json:"-"`
	CreatedAt  time.Time   `json:"-"`
	UpdatedAt  time.Time   `json:"-"`
}

// MatchRule selects certificates by their content. Comparisons are exact
// (case-insensitive for names).
type MatchRule struct {
	// SubjectCN is the subject's common name.
	SubjectCN string `json:"subject_cn,omitempty"`
	// SAN is one of the subject alternative names (DNS name, IP address,
	// e-mail address or URI).
	SAN string `json:"san,omitempty"`
	// Issuer is the issuer's distinguished name as Go prints it
	// ("CN=VMCA,O=example").
	Issuer string `json:"issuer,omitempty"`
}

// IsZero reports whether the rule sets nothing (and so matches nothing).
func (m MatchRule) IsZero() bool { return m == MatchRule{} }

// Credential is a KMIP Username and Password credential, the password kept
// only as a salted slow hash (see kmip/identity).
type Credential struct {
	Username string `json:"username"`
	// Hash is "pbkdf2-sha256$ITERATIONS$SALT$KEY" (base64 without
	// padding).
	Hash string `json:"hash"`
}

// Registry is implemented by stores that keep the tenant and client
// registry that the admin API changes and the identity layer reads.
type Registry interface {
	// ListTenants returns every tenant record, sorted by ID.
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// DeleteTenant removes a tenant record and its clients; ErrNotFound
	// if there is no record. Objects are the caller's to remove first.
	DeleteTenant(ctx context.Context, id string) error
	// PutClient creates a client (c.Revision == 0: ErrExists if the name
	// is taken in its tenant, or its fingerprint is registered anywhere;
	// ErrNotFound without a tenant record) or updates it (c.Revision
	// must match; ErrConflict otherwise).
	PutClient(ctx context.Context, c *Client) error
	// GetClient returns ErrNotFound for an unknown client.
	GetClient(ctx context.Context, tenantID, name string) (*Client, error)
	// ListClients returns a tenant's clients ("" for every tenant), sorted
	// by tenant, then name.
	ListClients(ctx context.Context, tenantID string) ([]*Client, error)
	// DeleteClient removes a client; ErrNotFound if missing.
	DeleteClient(ctx context.Context, tenantID, name string) error
	// RegistrySerial changes whenever a tenant or client record changes
	// (in any process sharing the store), so that caches can tell when to
	// reload.
	RegistrySerial(ctx context.Context) (uint64, error)
}
