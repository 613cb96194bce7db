package message

import (
	"time"

	"github.com/gemalto/kmip-go/kmip14"
)

// ActivateRequest is the Activate payload (KMIP 1.4 section 4.19).
type ActivateRequest struct {
	UniqueIdentifier UniqueID
}

// ActivateResponse answers Activate.
type ActivateResponse struct {
	UniqueIdentifier string
}

// RevocationReason is the Revocation Reason structure (KMIP 1.4 section
// 3.31), also kept as the object's attribute.
type RevocationReason struct {
	RevocationReasonCode kmip14.RevocationReasonCode
	RevocationMessage    string `ttlv:",omitempty"`
}

// RevokeRequest is the Revoke payload (KMIP 1.4 section 4.20).
type RevokeRequest struct {
	UniqueIdentifier         UniqueID
	RevocationReason         RevocationReason
	CompromiseOccurrenceDate time.Time
}

// RevokeResponse answers Revoke.
type RevokeResponse struct {
	UniqueIdentifier string
}
