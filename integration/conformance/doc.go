// Package conformance replays the OASIS KMIP profile test vectors (the
// XML test cases published with KMIP Profiles 1.0 to 2.1) against a
// running KMIP server and compares each response with the one the vector
// expects.
//
// A vector file is a sequence of Request and Response Messages in the XML
// encoding of KMIP (KMIP Profiles 2.1, 5.4): ReadVector reads it into
// Nodes, tags and enumerations by name through gemalto's registry (1.4
// and, importing kmip20, the 2.0 names). Before a request is sent,
// Bindings.Fill replaces its placeholders: $NOW and $NOW-3600 style
// offsets by the current time, $UNIQUE_IDENTIFIER_n and the others by the
// values earlier responses gave them. A Comparer then walks the expected
// and the real response item by item (tag, type, value, order) and
// reports the first Difference with its path; its doc comment lists the
// few things the server may choose (placeholders, times, vendor texts,
// generated material, the order of name lists).
//
// Run replays the files the server claims (mandatory test cases of
// the claimed profiles; Claimed), each on a fresh connection; the files
// that continue each other (TL-M-1, 2, 3 and SASED-M-2, 3 of a version)
// run in order on shared Bindings, and what a group leaves on the server
// is destroyed after it. The Report counts passes and failures per
// version and profile.
//
// The package knows nothing of the server: a Session sends TTLV bytes and
// returns TTLV bytes. integration/conformance_test.go runs it against the
// real binary.
package conformance
