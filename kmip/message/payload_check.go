package message

// CheckRequest is the Check payload (KMIP 1.4 section 4.10): the uses a
// client is about to make of an object.
type CheckRequest struct {
	UniqueIdentifier       UniqueID
	UsageLimitsCount       int64
	CryptographicUsageMask int32
	LeaseTime              int64
}

// CheckResponse answers a successful Check.
type CheckResponse struct {
	UniqueIdentifier string
}

// InteropRequest is the Interop payload (KMIP 2.0 section 6.1.26), which
// test suites send around a test case.
type InteropRequest struct {
	InteropFunction   uint32 `ttlv:",enum"`
	InteropIdentifier string
}

// InteropResponse answers Interop; it is empty.
type InteropResponse struct{}

// LogRequest is the Log payload (KMIP 2.0 section 6.1.28): a message the
// client wants in the server's log.
type LogRequest struct {
	LogMessage string
}

// LogResponse answers Log; it is empty.
type LogResponse struct{}
