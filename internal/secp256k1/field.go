package secp256k1

import "math/bits"

// fe is an element of the field of p, as four little-endian 64-bit limbs,
// always fully reduced (< p).
type fe [4]uint64

// pc is 2²⁵⁶ - p: the field's reduction constant (2²⁵⁶ ≡ pc mod p).
const pc = 0x1000003D1

// fieldP is p.
var fieldP = fe{0xFFFFFFFEFFFFFC2F, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF}

// selectFe returns b when bit is 1 and a when bit is 0, without a branch.
func selectFe(a, b fe, bit uint64) fe {
	mask := -bit
	for i := range a {
		a[i] ^= mask & (a[i] ^ b[i])
	}
	return a
}

// reduceOnce maps r + carry·2²⁵⁶ (< 2p) to r mod p: adding pc is
// subtracting p modulo 2²⁵⁶, and overflows exactly when r ≥ p.
func reduceOnce(r fe, carry uint64) fe {
	var t fe
	var c uint64
	t[0], c = bits.Add64(r[0], pc, 0)
	t[1], c = bits.Add64(r[1], 0, c)
	t[2], c = bits.Add64(r[2], 0, c)
	t[3], c = bits.Add64(r[3], 0, c)
	return selectFe(r, t, c|carry)
}

func feAdd(a, b fe) fe {
	var r fe
	var c uint64
	r[0], c = bits.Add64(a[0], b[0], 0)
	r[1], c = bits.Add64(a[1], b[1], c)
	r[2], c = bits.Add64(a[2], b[2], c)
	r[3], c = bits.Add64(a[3], b[3], c)
	return reduceOnce(r, c)
}

func feSub(a, b fe) fe {
	var r fe
	var borrow uint64
	r[0], borrow = bits.Sub64(a[0], b[0], 0)
	r[1], borrow = bits.Sub64(a[1], b[1], borrow)
	r[2], borrow = bits.Sub64(a[2], b[2], borrow)
	r[3], borrow = bits.Sub64(a[3], b[3], borrow)
	// On a borrow, add p: modulo 2²⁵⁶ that is subtracting pc.
	var b2 uint64
	r[0], b2 = bits.Sub64(r[0], pc&-borrow, 0)
	r[1], b2 = bits.Sub64(r[1], 0, b2)
	r[2], b2 = bits.Sub64(r[2], 0, b2)
	r[3], _ = bits.Sub64(r[3], 0, b2)
	return r
}

// mul512 is the 512-bit product of a and b.
func mul512(a, b [4]uint64) [8]uint64 {
	var t [8]uint64
	for i := 0; i < 4; i++ {
		var carry uint64
		for j := 0; j < 4; j++ {
			hi, lo := bits.Mul64(a[i], b[j])
			var c uint64
			lo, c = bits.Add64(lo, t[i+j], 0)
			hi += c
			lo, c = bits.Add64(lo, carry, 0)
			hi += c
			t[i+j], carry = lo, hi
		}
		t[i+4] = carry
	}
	return t
}

func feMul(a, b fe) fe {
	t := mul512(a, b)
	// t = hi·2²⁵⁶ + lo ≡ lo + hi·pc: fold the high half in twice.
	var r [5]uint64
	var carry uint64
	for i := 0; i < 4; i++ {
		hi, lo := bits.Mul64(t[i+4], pc)
		var c uint64
		lo, c = bits.Add64(lo, t[i], 0)
		hi += c
		lo, c = bits.Add64(lo, carry, 0)
		hi += c
		r[i], carry = lo, hi
	}
	r[4] = carry // < 2³⁴
	hi, lo := bits.Mul64(r[4], pc)
	var out fe
	var c uint64
	out[0], c = bits.Add64(r[0], lo, 0)
	out[1], c = bits.Add64(r[1], hi, c)
	out[2], c = bits.Add64(r[2], 0, c)
	out[3], c = bits.Add64(r[3], 0, c)
	// A carry out leaves a small value behind: adding pc for the lost
	// 2²⁵⁶ cannot carry again.
	var c2 uint64
	out[0], c2 = bits.Add64(out[0], pc&-c, 0)
	out[1], c2 = bits.Add64(out[1], 0, c2)
	out[2], c2 = bits.Add64(out[2], 0, c2)
	out[3], _ = bits.Add64(out[3], 0, c2)
	return reduceOnce(out, 0)
}

func feSquare(a fe) fe { return feMul(a, a) }

// feInv is a^(p-2) = a⁻¹ (0 for 0), by a fixed chain over the public
// exponent.
func feInv(a fe) fe {
	e := fieldP
	e[0] -= 2
	return fePow(a, e)
}

func fePow(a fe, e [4]uint64) fe {
	r := fe{1}
	for i := 255; i >= 0; i-- {
		r = feSquare(r)
		m := feMul(r, a)
		r = selectFe(r, m, (e[i/64]>>(i%64))&1)
	}
	return r
}

// feIsZero is 1 when a is 0, else 0.
func feIsZero(a fe) uint64 {
	v := a[0] | a[1] | a[2] | a[3]
	return 1 ^ ((v | -v) >> 63)
}

// feEqual is 1 when a = b.
func feEqual(a, b fe) uint64 {
	return feIsZero(fe{a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]})
}

// limbsFromBytes reads 32 big-endian bytes.
func limbsFromBytes(b []byte) [4]uint64 {
	var r [4]uint64
	for i := 0; i < 4; i++ {
		for j := 0; j < 8; j++ {
			r[3-i] = r[3-i]<<8 | uint64(b[i*8+j])
		}
	}
	return r
}

// limbsBytes writes 32 big-endian bytes.
func limbsBytes(r [4]uint64) []byte {
	out := make([]byte, 32)
	for i := 0; i < 4; i++ {
		for j := 0; j < 8; j++ {
			out[i*8+j] = byte(r[3-i] >> (56 - 8*j))
		}
	}
	return out
}

// lessThan is 1 when a < m (both 4 limbs), without a branch.
func lessThan(a, m [4]uint64) uint64 {
	var b uint64
	_, b = bits.Sub64(a[0], m[0], 0)
	_, b = bits.Sub64(a[1], m[1], b)
	_, b = bits.Sub64(a[2], m[2], b)
	_, b = bits.Sub64(a[3], m[3], b)
	return b
}

// feFromBytes reads a field element; ok is false when the value is not
// below p.
func feFromBytes(b []byte) (fe, bool) {
	v := limbsFromBytes(b)
	return v, lessThan(v, fieldP) == 1
}
