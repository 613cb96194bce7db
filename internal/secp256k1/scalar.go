package secp256k1

import (
	"math/big"
	"math/bits"
)

// sc is a scalar modulo the group order n, four little-endian limbs in
// Montgomery form (a·2²⁵⁶ mod n) once passed through toMont.
type sc [4]uint64

// orderN is the order of the base point.
var orderN = sc{0xBFD25E8CD0364141, 0xBAAEDCE6AF48A03B, 0xFFFFFFFFFFFFFFFE, 0xFFFFFFFFFFFFFFFF}

var (
	// nInv is -n⁻¹ mod 2⁶⁴ (Montgomery's constant).
	nInv uint64
	// rr is 2⁵¹² mod n: multiplying by it enters Montgomery form.
	rr sc
)

func init() {
	// Public constants, computed once.
	inv := uint64(1)
	for i := 0; i < 6; i++ { // Newton: each step doubles the good bits
		inv *= 2 - orderN[0]*inv
	}
	nInv = -inv
	n := new(big.Int).SetBytes(limbsBytes(orderN))
	r2 := new(big.Int).Lsh(big.NewInt(1), 512)
	r2.Mod(r2, n)
	rr = sc(limbsFromBytes(r2.FillBytes(make([]byte, 32))))
}

// montMul is a·b·2⁻²⁵⁶ mod n (CIOS), for a, b < n.
func montMul(a, b sc) sc {
	var t [6]uint64
	for i := 0; i < 4; i++ {
		var c, cc uint64
		for j := 0; j < 4; j++ {
			hi, lo := bits.Mul64(a[i], b[j])
			lo, cc = bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j], c = lo, hi
		}
		t[4], cc = bits.Add64(t[4], c, 0)
		t[5] = cc
		m := t[0] * nInv
		hi, lo := bits.Mul64(m, orderN[0])
		_, cc = bits.Add64(lo, t[0], 0)
		c = hi + cc
		for j := 1; j < 4; j++ {
			hi, lo = bits.Mul64(m, orderN[j])
			lo, cc = bits.Add64(lo, t[j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			t[j-1], c = lo, hi
		}
		t[3], cc = bits.Add64(t[4], c, 0)
		t[4] = t[5] + cc
	}
	var r sc
	var borrow uint64
	r[0], borrow = bits.Sub64(t[0], orderN[0], 0)
	r[1], borrow = bits.Sub64(t[1], orderN[1], borrow)
	r[2], borrow = bits.Sub64(t[2], orderN[2], borrow)
	r[3], borrow = bits.Sub64(t[3], orderN[3], borrow)
	_, borrow = bits.Sub64(t[4], 0, borrow)
	// A borrow means t < n: keep t.
	return sc(selectFe(fe(r), fe{t[0], t[1], t[2], t[3]}, borrow))
}

func toMont(a sc) sc   { return montMul(a, rr) }
func fromMont(a sc) sc { return montMul(a, sc{1}) }

func scAdd(a, b sc) sc {
	var r sc
	var c uint64
	r[0], c = bits.Add64(a[0], b[0], 0)
	r[1], c = bits.Add64(a[1], b[1], c)
	r[2], c = bits.Add64(a[2], b[2], c)
	r[3], c = bits.Add64(a[3], b[3], c)
	return scReduceOnce(r, c)
}

// scReduceOnce maps r + carry·2²⁵⁶ (< 2n) to r mod n.
func scReduceOnce(r sc, carry uint64) sc {
	var t sc
	var b uint64
	t[0], b = bits.Sub64(r[0], orderN[0], 0)
	t[1], b = bits.Sub64(r[1], orderN[1], b)
	t[2], b = bits.Sub64(r[2], orderN[2], b)
	t[3], b = bits.Sub64(r[3], orderN[3], b)
	// Take t when r ≥ n (no borrow) or the sum overflowed.
	return sc(selectFe(fe(r), fe(t), carry|(b^1)))
}

// scFromBytes reads 32 big-endian bytes reduced mod n (any 256-bit value
// is below 2n).
func scFromBytes(b []byte) sc { return scReduceOnce(sc(limbsFromBytes(b)), 0) }

// scInv is a⁻¹ mod n for a in Montgomery form (result in Montgomery
// form), by Fermat over the public exponent n-2.
func scInv(a sc) sc {
	e := orderN
	e[0] -= 2
	r := toMont(sc{1})
	for i := 255; i >= 0; i-- {
		r = montMul(r, r)
		m := montMul(r, a)
		r = sc(selectFe(fe(r), fe(m), (e[i/64]>>(i%64))&1))
	}
	return r
}

func scIsZero(a sc) uint64 { return feIsZero(fe(a)) }
