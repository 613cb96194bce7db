// Package ops implements the KMIP operations: one file per operation, one
// list of them in routes.go (which Query reports), and one function that
// maps errors to Result Reasons (errors.go).
//
// A handler receives a Call (protocol version, tenant, raw payload, the ID
// Placeholder of its batch) and returns a payload struct of package message
// or an error. Handlers never see the connection; tenancy arrives in Call.
package ops
