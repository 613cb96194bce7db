// Package audit is the adapter's audit trail: one structured record per
// KMIP operation and per admin action, never key material, written durably
// and chained so that a removed or altered record is detected.
//
// This file is the contract the rest of the server codes against; the
// durable, chained sink lives beside it.
package audit

import (
	"context"
	"time"
)

// Source says where an event came from.
const (
	SourceKMIP  = "kmip"  // a KMIP batch item
	SourceAdmin = "admin" // an admin API call
	SourceAuth  = "auth"  // a refused connection or credential
)

// Event is one audit record as the server reports it. It never holds key
// material, PINs, passwords or certificates' private keys.
type Event struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	Tenant string    `json:"tenant,omitempty"`
	// Client is the caller: the registered client name (KMIP) or the
	// operator certificate's subject (admin).
	Client string `json:"client,omitempty"`
	// Fingerprint is the caller certificate's "sha256:HEX", when known.
	Fingerprint string `json:"fingerprint,omitempty"`
	Remote      string `json:"remote,omitempty"`
	// Operation is the KMIP operation name ("Get") or the admin action
	// ("tenant.create").
	Operation string `json:"operation"`
	// UniqueID is the object the operation touched, when it names one;
	// for admin actions, the tenant or client acted on.
	UniqueID string `json:"unique_id,omitempty"`
	// Result is "success" or the KMIP Result Reason / admin error class.
	Result string `json:"result"`
	// Reason is the human-readable detail of a failure.
	Reason string `json:"reason,omitempty"`
}

// Recorder takes audit events. Record returns once the event is durable;
// an error means it is not, and the caller decides whether to fail the
// operation (the KMIP path fails closed when audit.required is set).
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Nop records nothing: the recorder of a server with auditing off, and of
// tests that do not look at the trail.
type Nop struct{}

// Record implements Recorder.
func (Nop) Record(context.Context, Event) error { return nil }
