// Package wire reads and checks KMIP TTLV frames (KMIP 1.4 section 9.1,
// 2.1 section 9.1) before anything decodes them.
//
// A frame is one top-level TTLV item: a 3-byte tag, a 1-byte type and a
// 4-byte length, then the value. ReadFrame refuses a length over the limit
// from the header alone, so a peer cannot make the server allocate what it
// claims; Check walks the frame once, linearly and with a depth bound, so
// the reflection decoder that runs after it never meets truncated values,
// bad lengths or unknown types (which it would answer with a panic).
package wire
