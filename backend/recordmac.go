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

// recordMACer is the root of trust that MACs the server's records when
// the Router holds several: record MACs protect the store, whatever root
// holds a tenant's KEK, so they come from the HSM's SKEY when the server
// has an HSM at all — the default root if it MACs records, else the first
// by type that does. It does not change when backend.type does, so records
// MACed before still verify.
func (r *Router) recordMACer() (RecordMACer, bool) {
	m, _, ok := r.recordMACerType()
	return m, ok
}

// recordMACerType is recordMACer with its backend type.
func (r *Router) recordMACerType() (RecordMACer, string, bool) {
	if m, ok := As[RecordMACer](r.backends[r.def]); ok {
		return m, r.def, true
	}
	for _, t := range r.types() {
		if m, ok := As[RecordMACer](r.backends[t]); ok {
			return m, t, true
		}
	}
	return nil, "", false
}

// MACRecord of a Router MACs with recordMACer; when no root of trust has
// a record MAC key (only cloud KMSs), it returns no MAC and records are
// stored without one.
func (r *Router) MACRecord(ctx context.Context, tenantID string, record []byte) ([]byte, error) {
	if m, ok := r.recordMACer(); ok {
		return m.MACRecord(ctx, tenantID, record)
	}
	return nil, nil
}

// VerifyRecord of a Router verifies with recordMACer.
func (r *Router) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error {
	if m, ok := r.recordMACer(); ok {
		return m.VerifyRecord(ctx, tenantID, record, mac)
	}
	return fmt.Errorf("no root of trust of this server (%v) has a record MAC key: %w", r.types(), ErrKeyMissing)
}

var _ RecordMACer = (*Router)(nil)

type recordMACRootKey struct{}

// WithRecordMACRoot asks, through ctx, for the new tenant key of
// NewTenantKey on the root of trust that MACs records: the record MAC
// key's internal tenant (kmip/ops recordkey.go) belongs with the SKEY
// that MACs its record, whatever a Router's default is.
func WithRecordMACRoot(ctx context.Context) context.Context {
	return context.WithValue(ctx, recordMACRootKey{}, true)
}

// recordMACRootType is the type of the root of trust that MACs records
// when ctx asks for it (WithRecordMACRoot), "" otherwise.
func (r *Router) recordMACRootType(ctx context.Context) string {
	if want, _ := ctx.Value(recordMACRootKey{}).(bool); !want {
		return ""
	}
	_, t, _ := r.recordMACerType()
	return t
}
