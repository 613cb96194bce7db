// Package identity maps a KMIP client's TLS certificate to its registered
// client, tenant and policy, from the registry the admin API keeps in the
// store (store.Registry).
//
// A certificate maps to exactly one client: by its fingerprint, or by one
// client's match rule (subject common name, subject alternative name,
// issuer). An unknown certificate, a disabled client or a disabled tenant
// is refused with Authentication Not Successful on the first request, and
// an audit event. A tenant may trust CAs of its own (vCenter's VMCA): a
// certificate that chains only to tenant T's CA maps only to a client of
// T. The registry is cached in memory; Invalidate reloads it at once (the
// admin API calls it after each change, and the server on a store's
// change notification) and Run polls the store's RegistrySerial, so that
// other nodes on a shared store follow within the poll interval when they
// are not told at once.
//
// Every request of a connection re-checks its client on the current
// reading (ops.Client.Authenticate), so that removing or disabling a client
// or a tenant also stops its open connections; the same hook checks the
// KMIP Credential.
//
// Until the registry holds a client or a tenant made through the admin API
// (mode "auto"), the configured single-tenant identity applies: every
// certificate of the server's client CA belongs to server.tenant, and
// server.vsphere_clients get the vsphere profile. In that mode each new
// connection first reads the store's RegistrySerial, so that no node keeps
// admitting unregistered certificates after the registry came into use.
package identity
