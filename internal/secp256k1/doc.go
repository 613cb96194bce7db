// Package secp256k1 is ECDSA on the SEC 2 curve secp256k1 (y² = x³ + 7
// over the prime field of p = 2²⁵⁶ - 2³² - 977), which Go's crypto/ecdsa
// does not implement and KMIP clients register (the OASIS vector
// CS-AC-M-3-ECC-13 does).
//
// Private key operations are constant-time: field and scalar elements are
// fixed-width 4×64-bit limbs whose arithmetic never branches on their
// values (conditional steps are masks), points use the complete addition
// formulas for a = 0 curves of Renes, Costello and Batina (2016, "Complete
// addition formulas for prime order elliptic curves", algorithm 7), which
// have no special cases, and scalar multiplication is a Montgomery ladder
// over all 256 bits with constant-time conditional swaps. Signing draws a
// fresh random nonce from crypto/rand for every signature.
//
// The package parses and writes the forms keys take in KMIP: RFC 5915
// ECPrivateKey, PKCS#8 and X.509 SubjectPublicKeyInfo (the curve's OID
// 1.3.132.0.10), and the uncompressed point.
package secp256k1
