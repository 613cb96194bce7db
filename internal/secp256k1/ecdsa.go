package secp256k1

import (
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
)

// PublicKey is a point of the curve other than the identity.
type PublicKey struct{ x, y fe }

// PrivateKey is a scalar d in [1, n-1] and its public point d·G.
type PrivateKey struct {
	d   [32]byte // big-endian
	pub PublicKey
}

// ErrInvalidKey is the error for values that are no key of the curve.
var ErrInvalidKey = errors.New("secp256k1: invalid key")

// NewPrivateKey makes the private key of the 32-byte big-endian scalar d,
// which must be in [1, n-1].
func NewPrivateKey(d []byte) (*PrivateKey, error) {
	if len(d) != 32 {
		return nil, ErrInvalidKey
	}
	v := limbsFromBytes(d)
	if lessThan(v, orderN)&(1^feIsZero(fe(v))) != 1 {
		return nil, ErrInvalidKey
	}
	k := &PrivateKey{}
	copy(k.d[:], d)
	x, y, _ := scalarMult(k.d[:], generator).affine()
	k.pub = PublicKey{x, y}
	return k, nil
}

// GenerateKey makes a private key from rand.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	b := make([]byte, 32)
	for {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, err
		}
		if k, err := NewPrivateKey(b); err == nil {
			return k, nil
		}
	}
}

// Public is the key's public half.
func (k *PrivateKey) Public() *PublicKey { p := k.pub; return &p }

// Bytes is d as 32 big-endian bytes.
func (k *PrivateKey) Bytes() []byte { return append([]byte(nil), k.d[:]...) }

// Equal reports whether k and o are the same key (in constant time).
func (k *PrivateKey) Equal(o *PrivateKey) bool {
	return subtle.ConstantTimeCompare(k.d[:], o.d[:]) == 1
}

// ParsePublicKey reads an uncompressed point (0x04 || X || Y, SEC 1
// section 2.3.3), which must be on the curve.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) != 65 || b[0] != 4 {
		return nil, errors.New("secp256k1: not an uncompressed point")
	}
	x, okx := feFromBytes(b[1:33])
	y, oky := feFromBytes(b[33:])
	if !okx || !oky || !onCurve(x, y) {
		return nil, errors.New("secp256k1: the point is not on the curve")
	}
	return &PublicKey{x, y}, nil
}

// Bytes is the uncompressed point, 65 bytes.
func (p *PublicKey) Bytes() []byte {
	out := append([]byte{4}, limbsBytes(p.x)...)
	return append(out, limbsBytes(p.y)...)
}

// Equal reports whether p and o are the same point.
func (p *PublicKey) Equal(o *PublicKey) bool { return p.x == o.x && p.y == o.y }

// hashToScalar is the leftmost 256 bits of digest as an integer, reduced
// mod n (SEC 1 section 4.1.3 step 5).
func hashToScalar(digest []byte) sc {
	var b [32]byte
	if len(digest) >= 32 {
		copy(b[:], digest[:32])
	} else {
		copy(b[32-len(digest):], digest)
	}
	return scFromBytes(b[:])
}

type signature struct{ R, S *big.Int }

// SignASN1 signs digest with k and returns the ASN.1 DER signature
// SEQUENCE { r INTEGER, s INTEGER }. The nonce is drawn from rand;
// everything that touches it or d runs in constant time.
func SignASN1(rand io.Reader, k *PrivateKey, digest []byte) ([]byte, error) {
	e := toMont(hashToScalar(digest))
	d := toMont(sc(limbsFromBytes(k.d[:])))
	nonce := make([]byte, 32)
	for {
		if _, err := io.ReadFull(rand, nonce); err != nil {
			return nil, err
		}
		kv := sc(limbsFromBytes(nonce))
		// Rejection sampling: an accepted nonce is uniform in [1, n-1].
		if lessThan(kv, orderN)&(1^scIsZero(kv)) != 1 {
			continue
		}
		x, _, _ := scalarMult(nonce, generator).affine()
		r := scFromBytes(limbsBytes(x))
		if scIsZero(r) == 1 {
			continue
		}
		kInv := scInv(toMont(kv))
		s := fromMont(montMul(kInv, scAdd(e, montMul(toMont(r), d))))
		if scIsZero(s) == 1 {
			continue
		}
		clear(nonce)
		return asn1.Marshal(signature{
			R: new(big.Int).SetBytes(limbsBytes(r)),
			S: new(big.Int).SetBytes(limbsBytes(s)),
		})
	}
}

// VerifyASN1 reports whether sig, an ASN.1 DER signature, is p's
// signature of digest (SEC 1 section 4.1.4).
func VerifyASN1(p *PublicKey, digest, sig []byte) bool {
	var rs signature
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil || len(rest) != 0 {
		return false
	}
	n := new(big.Int).SetBytes(limbsBytes(orderN))
	for _, v := range []*big.Int{rs.R, rs.S} {
		if v == nil || v.Sign() <= 0 || v.Cmp(n) >= 0 {
			return false
		}
	}
	r := sc(limbsFromBytes(rs.R.FillBytes(make([]byte, 32))))
	s := sc(limbsFromBytes(rs.S.FillBytes(make([]byte, 32))))
	w := scInv(toMont(s))
	u1 := fromMont(montMul(toMont(hashToScalar(digest)), w))
	u2 := fromMont(montMul(toMont(r), w))
	sum := add(scalarMult(limbsBytes(u1), generator), scalarMult(limbsBytes(u2), point{p.x, p.y, fe{1}}))
	x, _, infinity := sum.affine()
	if infinity {
		return false
	}
	return scFromBytes(limbsBytes(x)) == r
}
