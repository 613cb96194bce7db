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
// Several partitions holding the same key set form an HA set
// (backend.pkcs11.members, PKCS#11 URIs): requests are spread over the
// members that work, a member that fails (device error, token or session
// lost) is taken out and the request runs on another, and a background
// prober brings it back with a growing delay, finalizing and initializing
// its module again when the module lost its server (set.go). A member
// whose calls stop returning is taken out as hung after call_timeout
// (watch.go). With no member working, calls fail at once with
// backend.ErrUnavailable naming each member and why it is out.
//
// Mechanism ids come from a profile (softhsm2, luna) and the
// configuration (mechanisms.go); Check proves each of them on every
// working partition. Key material made on this backend comes from the HSM:
// tenant KEKs from C_GenerateKey, object material from C_GenerateRandom
// (Random), key pairs from C_GenerateKeyPair (GenerateRSA, GenerateECDSA).
// MACRecord and VerifyRecord MAC stored records with the SKEY; the
// operations use them for the record of the store's record MAC key and
// for records written before it (kmip/ops recordkey.go MACs the others
// in the adapter with that key, sealed through this backend). A tenant
// key blob names the MKEK that wrapped it, and RewrapTenantKey moves it to
// the configured MKEK inside the HSM (root rotation, rotate.go).
//
// PKCS#11 calls go through a small package-private interface (p11), so
// tests can put a fault-injecting module in front of the real one
// (faults_test.go: a killed server, a removed token, a wrong PIN).
//
// Provision and WriteSoftHSM2Conf set up a development token with the whole
// key set (kmipctl dev init); production partitions are set up by the
// customer.
package pkcs11
