package backend

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/elliptic"
)

// KeyKeeper is implemented by backends that can keep object keys inside
// the root of trust: a kept key is made there, leaves it only wrapped
// under the tenant KEK (the wrapped form is what the adapter stores,
// sealed like any material), and is unwrapped only into the root of trust
// (an HSM session object that can never be read or wrapped again) for the
// one operation that uses it. Its plaintext never enters the adapter's
// memory. The operations layer uses it for keys that are not Extractable
// (KMIP Extractable false, or a tenant policy for 1.x clients).
type KeyKeeper interface {
	// KeepSecretKey makes an AES key of Bits inside the root of trust (or
	// takes the Material a client registered into it) and returns it
	// wrapped under the tenant KEK.
	KeepSecretKey(ctx context.Context, req KeepSecretKeyRequest) ([]byte, error)
	// KeepKeyPair makes an RSA (RSABits) or EC (Curve) key pair inside the
	// root of trust and returns its public key and its private key
	// wrapped under the tenant KEK.
	KeepKeyPair(ctx context.Context, req KeepKeyPairRequest) (crypto.PublicKey, []byte, error)
	// WithKeptBlock unwraps a kept AES key inside the root of trust and
	// runs fn with its block cipher: each Encrypt or Decrypt of a block is
	// a call into the root of trust. The block is usable only during fn;
	// a failure of the root of trust during fn is returned (the block's
	// output is then zeros and must be discarded).
	WithKeptBlock(ctx context.Context, req KeptKeyRequest, fn func(cipher.Block) error) error
	// KeptSign signs a digest with a kept private key inside the root of
	// trust.
	KeptSign(ctx context.Context, req KeptSignRequest) ([]byte, error)
}

// KeepSecretKeyRequest asks for a new kept AES key.
type KeepSecretKeyRequest struct {
	Key  TenantKey
	Bits int // 128, 192 or 256
	// Material, when set, is the key (Bits/8 bytes) instead of a new one:
	// a key a client registers enters the root of trust once and is kept
	// there like a generated one.
	Material []byte
}

// KeepKeyPairRequest asks for a new kept key pair: RSA when RSABits is
// set, EC on Curve otherwise.
type KeepKeyPairRequest struct {
	Key     TenantKey
	RSABits int
	Curve   elliptic.Curve
}

// KeptKeyRequest names a kept key: its wrapped form under the tenant KEK.
type KeptKeyRequest struct {
	Key     TenantKey
	Wrapped []byte
}

// SignScheme is how KeptSign signs.
type SignScheme int

const (
	// SignPKCS1v15 is RSASSA-PKCS1-v1_5 (the DigestInfo is added inside).
	SignPKCS1v15 SignScheme = iota + 1
	// SignPSS is RSASSA-PSS with MGF1 of the same hash.
	SignPSS
	// SignECDSA is ECDSA; the signature is ASN.1 DER, as Go writes it.
	SignECDSA
)

// KeptSignRequest signs Digest (the hash of the message with Hash) with
// the kept private key Wrapped.
type KeptSignRequest struct {
	KeptKeyRequest
	Scheme SignScheme
	Hash   crypto.Hash
	// SaltLength is PSS's salt length; 0 means the hash's length.
	SaltLength int
	Digest     []byte
}
