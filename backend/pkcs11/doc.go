// Package pkcs11 is the root of trust on the customer's HSM partition,
// reached through a PKCS#11 module (Thales Luna in production, SoftHSM2 in
// development and tests). It implements backend.Backend with the envelope of
// DESIGN.md section 4, plus backend.RandomSource and backend.Checker.
//
// The partition holds the BYOHSM key set, found by label:
//
//   - MKEK (AES-256, CKA_WRAP/CKA_UNWRAP) wraps tenant KEKs with AES key
//     wrap with padding (RFC 5649);
//   - SKEY (AES-256 used with CKM_AES_CMAC, or a generic secret of 32 bytes
//     or more used with CKM_SHA256_HMAC) MACs every tenant key blob, so a
//     blob changed in the store, or moved to another tenant, is refused;
//   - IKEY (DES3) and the TKEK RSA pairs (PREFIX-01 .. PREFIX-NN) are used
//     for key import; this package only checks that they are there.
//
// A tenant KEK is generated in the HSM, leaves it only wrapped by the MKEK,
// and is brought back with C_UnwrapKey as a non-extractable session object
// that stays cached for the life of the Backend. Object key material is
// sealed under it with AES-GCM inside the HSM: no key of the hierarchy is
// ever in the adapter's memory.
//
// PKCS#11 calls go through a small package-private interface (p11), so
// tests can put a fault-injecting module in front of the real one.
//
// Provision and WriteSoftHSM2Conf set up a development token with the whole
// key set (kmipctl dev init); production partitions are set up by the
// customer.
package pkcs11
