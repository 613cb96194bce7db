// Package kmsdev is a local stand-in for the IBM Key Protect / Hyper
// Protect Crypto Services KMS API (and the IAM token endpoint in front of
// it), faithful enough that IBM's own Go client (keyprotect-go-client)
// works against it unchanged: the contract test in this package drives it
// with that client.
//
// It keeps root and standard keys in memory, with real AES-256-GCM per
// key version: wrap and unwrap take the additional authenticated data
// list (aad), rotation adds a version and keeps the old ones for unwrap
// (an unwrap of a ciphertext made under an older version answers with a
// rewrapped ciphertext and rewrappedKeyVersion, as the service does), and
// a disabled key answers 409 KEY_ACTION_INVALID_STATE_ERR. Requests need
// a bearer token from its IAM endpoint and the bluemix-instance header.
//
// Faults are injected through SetFaults (or POST /kmsdev/faults): a
// status (429, 503, ...) for the next N requests or for a while, and
// added latency. `kmipctl dev kms` runs it on a TCP address; tests use
// httptest.
//
// What it leaves out: policies, key rings other than a name on the key,
// dual authorization, registrations, secure import of key material
// (import_token answers, but create accepts only a plain payload), the
// one-rotation-per-hour limit.
package kmsdev
