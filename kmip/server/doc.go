// Package server is the KMIP listener: mutual TLS, framing by the 8-byte
// TTLV header with a size limit, deadlines, a connection limit, graceful
// drain; and the batch executor that runs a message's items through the
// operations service (KMIP 1.4 section 7, 2.1 section 8).
//
// The batch executor knows messages and batches, never what an operation
// does; the listener knows connections, never what a message says.
package server
