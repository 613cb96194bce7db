package backend

import "context"

// RecordMACer is implemented by backends that MAC stored records inside
// the root of trust (the HSM's SKEY): the store is not trusted blindly
// (DESIGN.md section 4), and a record whose MAC does not verify is not
// served. The record bytes are the caller's canonical encoding; the
// backend binds them to tenantID.
type RecordMACer interface {
	MACRecord(ctx context.Context, tenantID string, record []byte) ([]byte, error)
	// VerifyRecord returns an error matching ErrIntegrity when mac is not
	// the record's.
	VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error
}

// RecordMACerOf finds the RecordMACer of b: b's own, one it decorates, or
// for a Router that of its default root of trust (record MACs protect
// the server's store, whatever root of trust holds a tenant's KEK). A
// cloud KMS backend (hpcs) has no SKEY: a server on it alone stores
// records without MACs.
func RecordMACerOf(b Backend) (RecordMACer, bool) {
	if m, ok := As[RecordMACer](b); ok {
		return m, true
	}
	if r, ok := As[*Router](b); ok {
		if def, ok := r.Backend(r.def); ok {
			return As[RecordMACer](def)
		}
	}
	return nil, false
}
