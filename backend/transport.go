package backend

import (
	"context"
	"crypto"
	"errors"
)

// Secure import (DESIGN.md section 1): a client sends key material
// encrypted under a transport key of the root of trust, and the material
// is decrypted only inside it. Two kinds of transport keys exist:
//
//   - a TKEK, an RSA key pair whose public half any client may have: the
//     material is encrypted with RSA-OAEP under the public key;
//   - the IKEY, a DES3 key shared with the operator by key ceremony: the
//     material is encrypted with DES3-CBC (and PKCS#5 padding) under it.
//
// ErrTransportRefused is returned (wrapped) when the root of trust refuses
// the transport mechanism itself, e.g. DES3 in FIPS mode, or DES3 unwrap
// on SoftHSM2: it is a property of the partition, not of the request.
var ErrTransportRefused = errors.New("the root of trust refuses this transport mechanism")

// ErrTransportInput is returned (wrapped) when a transport import is the
// client's mistake: an unknown transport key, a malformed request, or
// material that does not decrypt to a key under the key named.
var ErrTransportInput = errors.New("bad transport import")

// TransportMechanism is how the material of a transport import was
// encrypted.
type TransportMechanism int

const (
	// TransportRSAOAEP is RSA-OAEP under a TKEK's public key, with the
	// hash the root of trust is configured for (SHA-1 on SoftHSM2,
	// SHA-256 on Luna) for both OAEP and MGF1, and no label.
	TransportRSAOAEP TransportMechanism = iota + 1
	// TransportDES3CBCPad is DES3-CBC with PKCS#5 padding under the IKEY;
	// the request carries the IV (8 bytes).
	TransportDES3CBCPad
)

// TransportKey is a transport key as a client sees it.
type TransportKey struct {
	// Label is the key's label in the root of trust (TKEK-01, ...); it is
	// what a client names in its import.
	Label string
	// Group is the label prefix the TKEKs share ("TKEK" of TKEK-01...):
	// clients find them all by it. Empty for the IKEY.
	Group string
	// Public is the TKEK's public key (*rsa.PublicKey); nil for the IKEY,
	// which is secret.
	Public crypto.PublicKey
	// OAEPHash is the hash of RSA-OAEP the root of trust accepts.
	OAEPHash crypto.Hash
}

// TransportImportRequest is material encrypted under the transport key
// Label, to be taken by tenant Key.
type TransportImportRequest struct {
	Key       TenantKey
	Label     string
	Mechanism TransportMechanism
	Encrypted []byte
	IV        []byte // DES3-CBC only
}

// TransportImporter is implemented by backends that hold transport keys.
type TransportImporter interface {
	// TransportKeys lists the TKEKs (with their public keys) and the IKEY.
	TransportKeys(ctx context.Context) ([]TransportKey, error)
	// ImportKept unwraps an AES key inside the root of trust (C_UnwrapKey
	// into a session object) and returns it wrapped under the tenant KEK,
	// in the form KeyKeeper's methods take, and its length in bits: the
	// plaintext never enters the adapter's memory.
	ImportKept(ctx context.Context, req TransportImportRequest) (wrapped []byte, bits int, err error)
	// DecryptTransport decrypts the material inside the root of trust and
	// returns it, for a key that is then sealed as usual (the plaintext
	// enters the adapter, as every sealed key's does when it is used).
	DecryptTransport(ctx context.Context, req TransportImportRequest) ([]byte, error)
}
