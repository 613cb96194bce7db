// Package certs is the adapter's small PKI: a development CA with server and
// client certificates for mutual TLS (DevPKI), and the building blocks that
// onboarding uses (a CA that issues server and client certificates and
// signs CSRs, for example one from vCenter's "CSR signed by the KMS" trust
// set-up).
//
// Keys are written as PKCS#8 PEM ("PRIVATE KEY"), which Go, OpenSSL and so
// PyKMIP load. RSA-2048 is the default key type because many storage
// appliances only negotiate RSA key exchange suites; ECDSA P-256 is the
// option for peers that want it (pykmip-server with Go clients, for one).
package certs
