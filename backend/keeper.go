package backend

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/elliptic"
	"errors"
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
	// KeptDecrypt decrypts with a kept RSA private key inside the root of
	// trust (RSA-OAEP or PKCS#1 v1.5): the Decrypt of a client, or the
	// unwrapping of a key block wrapped under the key pair's public key.
	// Every failure to decrypt is ErrDecrypt, whatever the cause, so
	// that no padding oracle is offered.
	KeptDecrypt(ctx context.Context, req KeptDecryptRequest) ([]byte, error)
	// KeptMAC computes the HMAC of Data with a kept HMAC key (see
	// KeepSecretKeyRequest.HMAC) inside the root of trust.
	KeptMAC(ctx context.Context, req KeptMACRequest) ([]byte, error)
}

// ErrDecrypt is the one error of a KeptDecrypt whose ciphertext does not
// decrypt (wrong key, bad padding, wrong length).
var ErrDecrypt = errors.New("decryption failed")

// DecryptScheme is how KeptDecrypt decrypts.
type DecryptScheme int

const (
	// DecryptOAEP is RSAES-OAEP with MGF1 (RFC 8017 section 7.1).
	DecryptOAEP DecryptScheme = iota + 1
	// DecryptPKCS1v15 is RSAES-PKCS1-v1_5 (RFC 8017 section 7.2).
	DecryptPKCS1v15
)

// KeptDecryptRequest decrypts Ciphertext with the kept RSA private key
// Wrapped.
type KeptDecryptRequest struct {
	KeptKeyRequest
	Scheme DecryptScheme
	// Hash and MGFHash are OAEP's hashes; Label its label.
	Hash, MGFHash crypto.Hash
	Label         []byte
	Ciphertext    []byte
}

// KeptMACRequest is the HMAC with Hash of Data under the kept HMAC key
// Wrapped.
type KeptMACRequest struct {
	KeptKeyRequest
	Hash crypto.Hash
	Data []byte
}

// KeepSecretKeyRequest asks for a new kept AES key, or HMAC key.
type KeepSecretKeyRequest struct {
	Key  TenantKey
	Bits int // 128, 192 or 256 for AES; a multiple of 8 for HMAC
	// HMAC, when set, makes the key an HMAC key for that hash (a generic
	// secret that only MACs: KeptMAC) instead of an AES key.
	HMAC crypto.Hash
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
