package backend

import (
	"context"
	"fmt"
)

// RecordMACer is implemented by backends that MAC stored records inside
// the root of trust (the HSM's SKEY): the store is not trusted blindly
// (DESIGN.md section 4), and a record whose MAC does not verify is not
// served. The record bytes are the caller's canonical encoding; the
// backend binds them to tenantID.
type RecordMACer interface {
	// MACRecord returns the record's MAC, or nil when this root of trust
	// has no record MAC key (the record is then stored without a MAC).
	MACRecord(ctx context.Context, tenantID string, record []byte) ([]byte, error)
	// VerifyRecord returns an error matching ErrIntegrity when mac is not
	// the record's.
	VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error
}

// MACRecord of a Router MACs with its default root of trust's SKEY
// (record MACs protect the server's store, whatever root of trust holds a
// tenant's KEK); when that root of trust has none (a cloud KMS), it
// returns no MAC and records are stored without one.
func (r *Router) MACRecord(ctx context.Context, tenantID string, record []byte) ([]byte, error) {
	def, _ := r.Backend(r.def)
	if m, ok := def.(RecordMACer); ok {
		return m.MACRecord(ctx, tenantID, record)
	}
	return nil, nil
}

// VerifyRecord of a Router verifies with its default root of trust.
func (r *Router) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error {
	def, _ := r.Backend(r.def)
	if m, ok := def.(RecordMACer); ok {
		return m.VerifyRecord(ctx, tenantID, record, mac)
	}
	return fmt.Errorf("root of trust %q has no record MAC key: %w", r.def, ErrKeyMissing)
}

var _ RecordMACer = (*Router)(nil)
