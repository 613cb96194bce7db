package ops

import (
	"crypto/subtle"
	"encoding/binary"
	"math/big"
	"math/bits"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
)

// ChaCha20 and ChaCha20-Poly1305 (RFC 8439), which KMIP 2.0 added to the
// Basic Cryptographic profile. Go's standard library keeps its own copy
// internal; this one also takes the original 64-bit nonce (with a 64-bit
// block counter) that the profile's test cases use besides RFC 8439's
// 96-bit one. Neither is constant-time critical beyond what the stream
// cipher itself is: Poly1305 runs on math/big, which is slow and fine for
// the sizes a KMIP request carries, but not constant-time; the one
// secret it handles is a one-time key derived per message.

// chachaKeyStream XORs src into dst with the ChaCha20 key stream of key
// (32 bytes) and nonce (8 or 12 bytes) starting at block counter.
func chachaKeyStream(dst, src, key, nonce []byte, counter uint64) {
	var state [16]uint32
	state[0], state[1], state[2], state[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	for i := 0; i < 8; i++ {
		state[4+i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	var block [64]byte
	for off := 0; off < len(src); off += 64 {
		if len(nonce) == 12 {
			state[12] = uint32(counter)
			state[13] = binary.LittleEndian.Uint32(nonce[0:])
			state[14] = binary.LittleEndian.Uint32(nonce[4:])
			state[15] = binary.LittleEndian.Uint32(nonce[8:])
		} else {
			state[12], state[13] = uint32(counter), uint32(counter>>32)
			state[14] = binary.LittleEndian.Uint32(nonce[0:])
			state[15] = binary.LittleEndian.Uint32(nonce[4:])
		}
		x := state
		for i := 0; i < 10; i++ {
			quarter(&x, 0, 4, 8, 12)
			quarter(&x, 1, 5, 9, 13)
			quarter(&x, 2, 6, 10, 14)
			quarter(&x, 3, 7, 11, 15)
			quarter(&x, 0, 5, 10, 15)
			quarter(&x, 1, 6, 11, 12)
			quarter(&x, 2, 7, 8, 13)
			quarter(&x, 3, 4, 9, 14)
		}
		for i := range x {
			binary.LittleEndian.PutUint32(block[4*i:], x[i]+state[i])
		}
		n := min(64, len(src)-off)
		subtle.XORBytes(dst[off:off+n], src[off:off+n], block[:n])
		counter++
	}
	clear(block[:])
}

func quarter(x *[16]uint32, a, b, c, d int) {
	x[a] += x[b]
	x[d] = bits.RotateLeft32(x[d]^x[a], 16)
	x[c] += x[d]
	x[b] = bits.RotateLeft32(x[b]^x[c], 12)
	x[a] += x[b]
	x[d] = bits.RotateLeft32(x[d]^x[a], 8)
	x[c] += x[d]
	x[b] = bits.RotateLeft32(x[b]^x[c], 7)
}

var (
	poly1305P     = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	poly1305Clamp = new(big.Int).SetBytes([]byte{0x0f, 0xff, 0xff, 0xfc, 0x0f, 0xff, 0xff, 0xfc, 0x0f, 0xff, 0xff, 0xfc, 0x0f, 0xff, 0xff, 0xff})
	two128        = new(big.Int).Lsh(big.NewInt(1), 128)
)

// leInt reads a little-endian number.
func leInt(b []byte) *big.Int {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(r)
}

// poly1305 is the one-time authenticator of RFC 8439 section 2.5.
func poly1305(key *[32]byte, msg []byte) []byte {
	r := new(big.Int).And(leInt(key[:16]), poly1305Clamp)
	s := leInt(key[16:])
	acc := new(big.Int)
	for off := 0; off < len(msg); off += 16 {
		chunk := append(append([]byte(nil), msg[off:min(off+16, len(msg))]...), 1)
		acc.Add(acc, leInt(chunk))
		acc.Mul(acc, r)
		acc.Mod(acc, poly1305P)
	}
	acc.Add(acc, s)
	acc.Mod(acc, two128)
	be := acc.FillBytes(make([]byte, 16))
	tag := make([]byte, 16)
	for i := range be {
		tag[15-i] = be[i]
	}
	return tag
}

// chachaPoly is the ChaCha20-Poly1305 AEAD of RFC 8439 section 2.8 (with
// 8- or 12-byte nonces); its Seal has the shape of cipher.AEAD's.
type chachaPoly struct{ key []byte }

func (c chachaPoly) Seal(nonce, plaintext, aad []byte) []byte {
	var otk [32]byte
	chachaKeyStream(otk[:], otk[:], c.key, nonce, 0)
	out := make([]byte, len(plaintext), len(plaintext)+16)
	chachaKeyStream(out, plaintext, c.key, nonce, 1)
	pad := func(b []byte) []byte { return append(b, make([]byte, (16-len(b)%16)%16)...) }
	mac := pad(append([]byte(nil), aad...))
	mac = pad(append(mac, out...))
	mac = binary.LittleEndian.AppendUint64(mac, uint64(len(aad)))
	mac = binary.LittleEndian.AppendUint64(mac, uint64(len(out)))
	tag := poly1305(&otk, mac)
	clear(otk[:])
	return append(out, tag...)
}

// The KMIP 2.0 algorithms, as the 1.4 type the key attributes use.
const (
	algChaCha20         = kmip14.CryptographicAlgorithm(kmip20.CryptographicAlgorithmChaCha20)
	algChaCha20Poly1305 = kmip14.CryptographicAlgorithm(kmip20.CryptographicAlgorithmChaCha20Poly1305)
)
