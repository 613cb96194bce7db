// Package admin is the adapter's admin API: JSON over HTTPS with mutual
// TLS (operator certificates, from a CA of their own), on a listener of
// its own, for tenants, registered clients, client certificates and the
// CA export. kmipctl is its client (Client, in this package). Every
// change is recorded as an audit event (audit.SourceAdmin) and applied at
// once: the identity cache is reloaded after each change, and other nodes
// on a shared store follow within registry.refresh_interval.
//
// Routes (all under /v1; errors are {"error": "..."} with a 4xx or 5xx
// status):
//
//	GET    /tenants                              list tenants
//	POST   /tenants                              create (TenantCreate)
//	GET    /tenants/{tenant}                     show
//	PATCH  /tenants/{tenant}                     update (TenantUpdate): enable, disable, policy
//	DELETE /tenants/{tenant}                     delete (refused while it holds Active objects)
//	POST   /tenants/{tenant}/trusted-cas         trust a CA for this tenant only (TrustCA)
//	GET    /clients?tenant=T                     list clients
//	POST   /tenants/{tenant}/clients             register a client (ClientCreate)
//	PATCH  /tenants/{tenant}/clients/{client}    update (ClientUpdate)
//	DELETE /tenants/{tenant}/clients/{client}    remove
//	POST   /tenants/{tenant}/clients/{client}/certificate  sign a CSR and register the client (SignRequest)
//	GET    /ca                                   the CA KMIP clients trust the server with
package admin
