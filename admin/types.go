package admin

import (
	"time"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Tenant is a tenant as the admin API shows it (never its key blob).
type Tenant struct {
	Name    string `json:"name"`
	Backend string `json:"backend"`
	Root    string `json:"root,omitempty"`
	// Status is "enabled", "disabled", or "unmanaged" for a tenant made on
	// first use by the configured single-tenant identity.
	Status     string             `json:"status"`
	Policy     store.TenantPolicy `json:"policy"`
	TrustedCAs []CAInfo           `json:"trusted_cas,omitempty"`
	// Objects counts the tenant's objects, ActiveObjects those Active.
	Objects       int       `json:"objects"`
	ActiveObjects int       `json:"active_objects"`
	Clients       int       `json:"clients"`
	CreatedAt     time.Time `json:"created_at"`
}

// CAInfo describes a trusted CA certificate.
type CAInfo struct {
	Subject     string    `json:"subject"`
	Fingerprint string    `json:"fingerprint"`
	NotAfter    time.Time `json:"not_after"`
}

// TenantCreate creates a tenant and its KEK.
type TenantCreate struct {
	Name string `json:"name"`
	// Backend is the root-of-trust type ("" for the configured one).
	Backend  string             `json:"backend,omitempty"`
	Root     string             `json:"root,omitempty"`
	Policy   store.TenantPolicy `json:"policy"`
	Disabled bool               `json:"disabled,omitempty"`
}

// TenantUpdate changes what it sets.
type TenantUpdate struct {
	// Status is "enabled" or "disabled".
	Status               *string   `json:"status,omitempty"`
	ActivateOnCreate     *bool     `json:"activate_on_create,omitempty"`
	AllowNoClientAuthEKU *bool     `json:"allow_no_client_auth_eku,omitempty"`
	RequireCredential    *bool     `json:"require_credential,omitempty"`
	AllowedOperations    *[]string `json:"allowed_operations,omitempty"`
}

// TrustCA adds CA certificates (PEM) to a tenant's own trusted CAs.
type TrustCA struct {
	PEM string `json:"pem"`
}

// Client is a registered client as the admin API shows it (never its
// password hash).
type Client struct {
	Tenant      string          `json:"tenant"`
	Name        string          `json:"name"`
	Enabled     bool            `json:"enabled"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	Match       store.MatchRule `json:"match,omitzero"`
	Username    string          `json:"username,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// ClientCreate registers a client by fingerprint (Fingerprint, or the
// certificate itself in CertificatePEM) or by a match rule.
type ClientCreate struct {
	Name           string          `json:"name"`
	Fingerprint    string          `json:"fingerprint,omitempty"`
	CertificatePEM string          `json:"certificate_pem,omitempty"`
	Match          store.MatchRule `json:"match,omitzero"`
	// Username and Password set the client's KMIP Credential; the
	// password is kept only as a salted slow hash.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

// ClientUpdate changes what it sets.
type ClientUpdate struct {
	Enabled  *bool   `json:"enabled,omitempty"`
	Username *string `json:"username,omitempty"`
	Password *string `json:"password,omitempty"`
}

// SignRequest asks the server's issuing CA to certify a client's key
// (a PEM certificate signing request) and registers the client by the
// new certificate's fingerprint.
type SignRequest struct {
	CSRPEM   string `json:"csr_pem"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// SignResponse is the signed certificate and the CA that issued it.
type SignResponse struct {
	CertificatePEM string `json:"certificate_pem"`
	CAPEM          string `json:"ca_pem"`
	Fingerprint    string `json:"fingerprint"`
	Client         Client `json:"client"`
}

// CA is the certificate (PEM) that KMIP clients trust the server with.
type CA struct {
	PEM string `json:"pem"`
}

// Error is the body of every failed call.
type Error struct {
	Error string `json:"error"`
}
