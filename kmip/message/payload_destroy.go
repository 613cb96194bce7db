package message

// DestroyRequest is the Destroy payload (KMIP 1.4 section 4.21).
type DestroyRequest struct {
	UniqueIdentifier UniqueID
}

// DestroyResponse answers Destroy.
type DestroyResponse struct {
	UniqueIdentifier string
}
