package message

// ArchiveRequest is the Archive payload (KMIP 1.4 section 4.22); Recover
// (section 4.23) has the same shape.
type ArchiveRequest struct {
	UniqueIdentifier UniqueID
}

// ArchiveResponse answers Archive and Recover.
type ArchiveResponse struct {
	UniqueIdentifier string
}
