package secp256k1

// point is a projective point (X:Y:Z) representing (X/Z, Y/Z); the
// identity is (0:1:0).
type point struct{ x, y, z fe }

// b3 is 3·b for b = 7.
var b3 = fe{21}

var (
	gx = fe{0x59F2815B16F81798, 0x029BFCDB2DCE28D9, 0x55A06295CE870B07, 0x79BE667EF9DCBBAC}
	gy = fe{0x9C47D08FFB10D4B8, 0xFD17B448A6855419, 0x5DA4FBFC0E1108A8, 0x483ADA7726A3C465}
	// generator is the base point G of SEC 2.
	generator = point{gx, gy, fe{1}}
	identity  = point{fe{}, fe{1}, fe{}}
)

// add is P + Q by the complete formulas for a = 0 (Renes, Costello,
// Batina 2016, algorithm 7): right for every input, doubling and the
// identity included, with the same operations each time.
func add(p, q point) point {
	t0 := feMul(p.x, q.x)
	t1 := feMul(p.y, q.y)
	t2 := feMul(p.z, q.z)
	t3 := feAdd(p.x, p.y)
	t4 := feAdd(q.x, q.y)
	t3 = feMul(t3, t4)
	t4 = feAdd(t0, t1)
	t3 = feSub(t3, t4)
	t4 = feAdd(p.y, p.z)
	x3 := feAdd(q.y, q.z)
	t4 = feMul(t4, x3)
	x3 = feAdd(t1, t2)
	t4 = feSub(t4, x3)
	x3 = feAdd(p.x, p.z)
	y3 := feAdd(q.x, q.z)
	x3 = feMul(x3, y3)
	y3 = feAdd(t0, t2)
	y3 = feSub(x3, y3)
	x3 = feAdd(t0, t0)
	t0 = feAdd(x3, t0)
	t2 = feMul(b3, t2)
	z3 := feAdd(t1, t2)
	t1 = feSub(t1, t2)
	y3 = feMul(b3, y3)
	x3 = feMul(t4, y3)
	t2 = feMul(t3, t1)
	x3 = feSub(t2, x3)
	y3 = feMul(y3, t0)
	t1 = feMul(t1, z3)
	y3 = feAdd(t1, y3)
	t0 = feMul(t0, t3)
	z3 = feMul(z3, t4)
	z3 = feAdd(z3, t0)
	return point{x3, y3, z3}
}

// cswap swaps p and q when bit is 1, without a branch.
func cswap(p, q *point, bit uint64) {
	mask := -bit
	for _, pair := range [3][2]*fe{{&p.x, &q.x}, {&p.y, &q.y}, {&p.z, &q.z}} {
		a, b := pair[0], pair[1]
		for i := range a {
			t := mask & (a[i] ^ b[i])
			a[i] ^= t
			b[i] ^= t
		}
	}
}

// scalarMult is k·P for k as 32 big-endian bytes: a Montgomery ladder
// over all 256 bits, one addition and one doubling per bit whatever the
// bit, the roles chosen by constant-time swaps.
func scalarMult(k []byte, p point) point {
	r0, r1 := identity, p
	for i := 0; i < 256; i++ {
		bit := uint64(k[i/8]>>(7-i%8)) & 1
		cswap(&r0, &r1, bit)
		r1 = add(r0, r1)
		r0 = add(r0, r0)
		cswap(&r0, &r1, bit)
	}
	return r0
}

// affine returns (x, y) of p and whether p is the identity.
func (p point) affine() (x, y fe, infinity bool) {
	inv := feInv(p.z)
	return feMul(p.x, inv), feMul(p.y, inv), feIsZero(p.z) == 1
}

// onCurve reports whether affine (x, y) satisfies y² = x³ + 7.
func onCurve(x, y fe) bool {
	rhs := feAdd(feMul(feSquare(x), x), fe{7})
	return feEqual(feSquare(y), rhs) == 1
}
