package secp256k1

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	bigP = new(big.Int).SetBytes(limbsBytes(fieldP))
	bigN = new(big.Int).SetBytes(limbsBytes(orderN))
)

func toBig(v [4]uint64) *big.Int { return new(big.Int).SetBytes(limbsBytes(v)) }

// hx compares numbers by value (big.Int's zero has two forms).
func hx(v *big.Int) string { return v.Text(16) }

func fromBig(v *big.Int) [4]uint64 { return limbsFromBytes(v.FillBytes(make([]byte, 32))) }

// randomBelow returns values that stress the limbs: random ones, and
// ones next to 0 and to the modulus.
func randomBelow(t *testing.T, m *big.Int) []*big.Int {
	t.Helper()
	out := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(m, big.NewInt(1)), new(big.Int).Sub(m, big.NewInt(2))}
	for i := 0; i < 40; i++ {
		v, err := rand.Int(rand.Reader, m)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

func TestFieldArithmeticAgainstBigInt(t *testing.T) {
	vals := randomBelow(t, bigP)
	for _, a := range vals {
		for _, b := range vals {
			fa, fb := fe(fromBig(a)), fe(fromBig(b))
			want := new(big.Int)
			require.Equal(t, hx(want.Mod(want.Add(a, b), bigP)), hx(toBig(feAdd(fa, fb))), "add %x %x", a, b)
			require.Equal(t, hx(want.Mod(want.Sub(a, b), bigP)), hx(toBig(feSub(fa, fb))), "sub %x %x", a, b)
			require.Equal(t, hx(want.Mod(want.Mul(a, b), bigP)), hx(toBig(feMul(fa, fb))), "mul %x %x", a, b)
		}
		if a.Sign() != 0 {
			require.Equal(t, hx(new(big.Int).ModInverse(a, bigP)), hx(toBig(feInv(fe(fromBig(a))))), "inv %x", a)
		}
	}
}

func TestScalarArithmeticAgainstBigInt(t *testing.T) {
	vals := randomBelow(t, bigN)
	for _, a := range vals {
		for _, b := range vals {
			ma, mb := toMont(sc(fromBig(a))), toMont(sc(fromBig(b)))
			want := new(big.Int)
			require.Equal(t, hx(want.Mod(want.Mul(a, b), bigN)), hx(toBig(fromMont(montMul(ma, mb)))), "mul %x %x", a, b)
			require.Equal(t, hx(want.Mod(want.Add(a, b), bigN)), hx(toBig(fromMont(scAdd(ma, mb)))), "add %x %x", a, b)
		}
		if a.Sign() != 0 {
			require.Equal(t, hx(new(big.Int).ModInverse(a, bigN)), hx(toBig(fromMont(scInv(toMont(sc(fromBig(a))))))), "inv %x", a)
		}
	}
	// Reduction of 256-bit values at and above n.
	for _, v := range []*big.Int{bigN, new(big.Int).Add(bigN, big.NewInt(5)), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))} {
		require.Equal(t, hx(new(big.Int).Mod(v, bigN)), hx(toBig(scFromBytes(v.FillBytes(make([]byte, 32))))))
	}
}

// refMult is k·G in affine coordinates with math/big, by the textbook
// formulas: an independent reference for the ladder.
func refMult(k *big.Int) (x, y *big.Int, inf bool) {
	gX, gY := toBig(gx), toBig(gy)
	var rx, ry *big.Int
	addAff := func(x1, y1, x2, y2 *big.Int) (*big.Int, *big.Int) {
		if x1 == nil {
			return x2, y2
		}
		var l *big.Int
		if x1.Cmp(x2) == 0 {
			if new(big.Int).Mod(new(big.Int).Add(y1, y2), bigP).Sign() == 0 {
				return nil, nil
			}
			num := new(big.Int).Mul(big.NewInt(3), new(big.Int).Mul(x1, x1))
			den := new(big.Int).ModInverse(new(big.Int).Lsh(y1, 1), bigP)
			l = num.Mul(num, den)
		} else {
			num := new(big.Int).Sub(y2, y1)
			den := new(big.Int).ModInverse(new(big.Int).Mod(new(big.Int).Sub(x2, x1), bigP), bigP)
			l = num.Mul(num, den)
		}
		l.Mod(l, bigP)
		x3 := new(big.Int).Sub(new(big.Int).Mul(l, l), new(big.Int).Add(x1, x2))
		x3.Mod(x3, bigP)
		y3 := new(big.Int).Sub(new(big.Int).Mul(l, new(big.Int).Sub(x1, x3)), y1)
		return x3, y3.Mod(y3, bigP)
	}
	for i := k.BitLen() - 1; i >= 0; i-- {
		if rx != nil {
			rx, ry = addAff(rx, ry, rx, ry)
		}
		if k.Bit(i) == 1 {
			rx, ry = addAff(rx, ry, gX, gY)
		}
	}
	return rx, ry, rx == nil
}

func TestScalarMultAgainstReference(t *testing.T) {
	ks := append(randomBelow(t, bigN), big.NewInt(3), big.NewInt(255))
	for _, k := range ks {
		x, y, inf := scalarMult(k.FillBytes(make([]byte, 32)), generator).affine()
		rx, ry, rinf := refMult(k)
		require.Equal(t, rinf, inf, "k=%x", k)
		if !inf {
			assert.Equal(t, hx(rx), hx(toBig(x)), "x of %x·G", k)
			assert.Equal(t, hx(ry), hx(toBig(y)), "y of %x·G", k)
			assert.True(t, onCurve(x, y))
		}
	}
}

func TestKnownPoints(t *testing.T) {
	assert.True(t, onCurve(gx, gy), "G (SEC 2 section 2.4.1) is on the curve")
	// The order: n·G is the identity.
	_, _, inf := scalarMult(limbsBytes(orderN), generator).affine()
	assert.True(t, inf)
	// 2·G, a value printed in many references.
	x, _, _ := scalarMult(big.NewInt(2).FillBytes(make([]byte, 32)), generator).affine()
	assert.Equal(t, "c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5", hex.EncodeToString(limbsBytes(x)))
}

func TestSignVerifyRoundTripAndTampering(t *testing.T) {
	k, err := GenerateKey(rand.Reader)
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("kmip"))
	sig, err := SignASN1(rand.Reader, k, digest[:])
	require.NoError(t, err)
	assert.True(t, VerifyASN1(k.Public(), digest[:], sig))
	other := sha256.Sum256([]byte("kmiP"))
	assert.False(t, VerifyASN1(k.Public(), other[:], sig), "another digest")
	k2, err := GenerateKey(rand.Reader)
	require.NoError(t, err)
	assert.False(t, VerifyASN1(k2.Public(), digest[:], sig), "another key")
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	assert.False(t, VerifyASN1(k.Public(), digest[:], bad), "a flipped bit")
	assert.False(t, VerifyASN1(k.Public(), digest[:], sig[:len(sig)-1]), "cut short")
}

func TestKeyEncodingsRoundTrip(t *testing.T) {
	k, err := GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := MarshalECPrivateKey(k)
	require.NoError(t, err)
	back, err := ParseECPrivateKey(der)
	require.NoError(t, err)
	assert.True(t, k.Equal(back))
	p8, err := MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	back, err = ParsePKCS8PrivateKey(p8)
	require.NoError(t, err)
	assert.True(t, k.Equal(back))
	spki, err := MarshalPKIXPublicKey(k.Public())
	require.NoError(t, err)
	pub, err := ParsePKIXPublicKey(spki)
	require.NoError(t, err)
	assert.True(t, pub.Equal(k.Public()))

	for name, bad := range map[string][]byte{
		"zero scalar": make([]byte, 32), "n": limbsBytes(orderN),
	} {
		_, err := NewPrivateKey(bad)
		assert.ErrorIs(t, err, ErrInvalidKey, name)
	}
	off := k.Public().Bytes()
	off[64] ^= 1
	_, err = ParsePublicKey(off)
	assert.Error(t, err, "a point off the curve")
}

// TestInteroperatesWithOpenSSL signs with OpenSSL and verifies here, and
// the other way: OpenSSL is an independent implementation of the curve,
// of ECDSA and of the key encodings.
func TestInteroperatesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	require.NoError(t, err, "openssl is needed as the independent peer")
	dir := t.TempDir()
	run := func(args ...string) []byte {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		require.NoError(t, err, "openssl %v: %s", args, out)
		return out
	}
	keyPEM := filepath.Join(dir, "key.pem")
	run("ecparam", "-name", "secp256k1", "-genkey", "-noout", "-out", keyPEM)
	run("ec", "-in", keyPEM, "-pubout", "-outform", "DER", "-out", filepath.Join(dir, "pub.der"))
	msg := []byte("signed by openssl, verified by us")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "msg"), msg, 0o600))
	run("dgst", "-sha256", "-sign", keyPEM, "-out", filepath.Join(dir, "sig"), filepath.Join(dir, "msg"))

	raw, err := os.ReadFile(keyPEM)
	require.NoError(t, err)
	block, _ := pem.Decode(raw)
	require.NotNil(t, block)
	priv, err := ParseECPrivateKey(block.Bytes)
	require.NoError(t, err)
	pubDER, err := os.ReadFile(filepath.Join(dir, "pub.der"))
	require.NoError(t, err)
	pub, err := ParsePKIXPublicKey(pubDER)
	require.NoError(t, err)
	require.True(t, pub.Equal(priv.Public()), "our d·G is OpenSSL's public key")
	sig, err := os.ReadFile(filepath.Join(dir, "sig"))
	require.NoError(t, err)
	digest := sha256.Sum256(msg)
	assert.True(t, VerifyASN1(pub, digest[:], sig), "OpenSSL's signature verifies here")

	ours, err := SignASN1(rand.Reader, priv, digest[:])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ours"), ours, 0o600))
	out := run("dgst", "-sha256", "-verify", filepath.Join(dir, "pub.der"), "-keyform", "DER", "-signature", filepath.Join(dir, "ours"), filepath.Join(dir, "msg"))
	assert.Contains(t, string(out), "Verified OK")

	// Our encodings read back by OpenSSL.
	der, err := MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ours.p8"), der, 0o600))
	text := run("pkey", "-inform", "DER", "-in", filepath.Join(dir, "ours.p8"), "-noout", "-text")
	assert.Contains(t, string(text), "secp256k1")
}

func BenchmarkSign(b *testing.B) {
	k, err := GenerateKey(rand.Reader)
	require.NoError(b, err)
	digest := sha256.Sum256([]byte("x"))
	for b.Loop() {
		_, _ = SignASN1(rand.Reader, k, digest[:])
	}
}
