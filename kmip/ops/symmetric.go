package ops

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"encoding/binary"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Symmetric encryption for Encrypt and Decrypt (KMIP 1.4 sections 4.29,
// 4.30): AES, 3DES and DES in ECB, CBC, CTR and GCM mode, and the AES key
// wrap modes (NIST SP 800-38F KW and KWP). Padding: None and PKCS#5
// (PKCS#7 for 16-byte blocks), Zeros for encryption.
//
// Multi-part use (Init Indicator, Correlation Value, Final Indicator) runs
// the whole input received so far through run each time and answers what
// is new: ECB, CBC, CTR and GCM produce each output byte from the input
// up to that byte, so the prefix already answered never changes. GCM's tag
// comes with the last part.

// symCipher is one symmetric operation's fixed inputs.
type symCipher struct {
	block cipher.Block
	// chacha is set for ChaCha20 (block is nil): the key, and whether
	// Poly1305 authenticates (ChaCha20-Poly1305).
	chacha     []byte
	chachaPoly bool

	mode    kmip14.BlockCipherMode
	padding kmip14.PaddingMethod
	iv      []byte
	aad     []byte
	tagLen  int
	encrypt bool
}

// newBlock makes the block cipher of the key's algorithm.
func newBlock(alg kmip14.CryptographicAlgorithm, key []byte) (cipher.Block, error) {
	switch alg {
	case kmip14.CryptographicAlgorithmAES:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the key is not an AES key: %v", err)
		}
		return b, nil
	case kmip14.CryptographicAlgorithmDES3:
		k := key
		if len(k) == 16 { // two-key 3DES: K1 K2 K1
			k = append(bytes.Clone(key), key[:8]...)
		}
		b, err := des.NewTripleDESCipher(k)
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the key is not a 3DES key: %v", err)
		}
		return b, nil
	case kmip14.CryptographicAlgorithmDES:
		b, err := des.NewCipher(key)
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the key is not a DES key: %v", err)
		}
		return b, nil
	}
	return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Algorithm %s cannot encrypt", alg)
}

// gcmTagLengths are the GCM tag lengths (bytes) the server produces and
// checks (NIST SP 800-38D section 5.2.1.2).
var gcmTagLengths = map[int]bool{4: true, 8: true, 12: true, 13: true, 14: true, 15: true, 16: true}

// defaultIVLength is the IV a server-generated IV gets per mode.
func (c *symCipher) defaultIVLength() int {
	if c.mode == kmip14.BlockCipherModeGCM || c.chacha != nil {
		return 12
	}
	return c.block.BlockSize()
}

// needsIV reports whether the mode takes an IV, Counter or Nonce.
func (c *symCipher) needsIV() bool {
	if c.chacha != nil {
		return true
	}
	switch c.mode {
	case kmip14.BlockCipherModeCBC, kmip14.BlockCipherModeCTR, kmip14.BlockCipherModeGCM:
		return true
	}
	return false
}

// check validates the IV against the mode (the IV is set).
func (c *symCipher) check() error {
	if c.chacha != nil {
		if len(c.chacha) != 32 {
			return message.Errorf(kmip20.ResultReasonInvalidField, "a ChaCha20 key is 32 bytes, not %d", len(c.chacha))
		}
		if n := len(c.iv); n != 8 && n != 12 && (n != 16 || c.chachaPoly) {
			return message.Errorf(kmip20.ResultReasonInvalidField, "the ChaCha20 nonce is 8 or 12 bytes (or a 16-byte counter and nonce), not %d", n)
		}
		if c.chachaPoly && !gcmTagLengths[c.tagLen] {
			return message.Errorf(kmip20.ResultReasonGeneralFailure, "Poly1305 Tag Length %d is not supported (4, 8, 12 to 16 bytes are)", c.tagLen)
		}
		return nil
	}
	bs := c.block.BlockSize()
	switch c.mode {
	case kmip14.BlockCipherModeECB:
	case kmip14.BlockCipherModeCBC, kmip14.BlockCipherModeCTR:
		if len(c.iv) != bs {
			return message.Errorf(kmip20.ResultReasonInvalidField, "the IV/Counter/Nonce of %s mode is %d bytes, not %d", c.mode, bs, len(c.iv))
		}
	case kmip14.BlockCipherModeGCM:
		if bs != 16 {
			return message.Errorf(kmip20.ResultReasonInvalidField, "GCM needs a 128-bit block cipher")
		}
		if len(c.iv) == 0 || len(c.iv) > 128 {
			return message.Errorf(kmip20.ResultReasonInvalidField, "the GCM nonce must be 1 to 128 bytes")
		}
		if !gcmTagLengths[c.tagLen] {
			// The profiles' test cases (CS-BC-M-GCM-1) answer General
			// Failure for an impossible tag length.
			return message.Errorf(kmip20.ResultReasonGeneralFailure, "GCM Tag Length %d is not supported (4, 8, 12 to 16 bytes are)", c.tagLen)
		}
	case kmip14.BlockCipherModeNISTKeyWrap, kmip14.BlockCipherModeAESKeyWrapPadding:
		if bs != 16 {
			return message.Errorf(kmip20.ResultReasonInvalidField, "%s needs an AES key", c.mode)
		}
	default:
		return message.Errorf(kmip20.ResultReasonInvalidField, "Block Cipher Mode %s is not supported (ECB, CBC, CTR, GCM, NIST Key Wrap and AES Key Wrap Padding are)", c.mode)
	}
	switch c.padding {
	case 0, kmip14.PaddingMethodNone, kmip14.PaddingMethodPKCS5:
	case kmip14.PaddingMethodZeros:
		if !c.encrypt {
			return message.Errorf(kmip20.ResultReasonInvalidField, "Zeros padding cannot be removed on decryption")
		}
	default:
		return message.Errorf(kmip20.ResultReasonInvalidField, "Padding Method %s is not supported for symmetric keys (None, PKCS5 and Zeros are)", c.padding)
	}
	return nil
}

// streams reports whether the mode can run in several parts.
func (c *symCipher) streams() bool {
	switch c.mode {
	case kmip14.BlockCipherModeNISTKeyWrap, kmip14.BlockCipherModeAESKeyWrapPadding:
		return false
	}
	return true
}

func (c *symCipher) padded() bool {
	return c.padding == kmip14.PaddingMethodPKCS5 || c.padding == kmip14.PaddingMethodZeros
}

// run processes data, the whole input so far. Unless final it processes
// only the prefix whose output cannot change (whole blocks; for padded
// decryption all but the last block). tag is the tag to check on GCM
// decryption; outTag the tag GCM encryption made.
func (c *symCipher) run(data []byte, final bool, tag []byte) (out, outTag []byte, err error) {
	if c.chacha != nil {
		return c.runChacha(data, final, tag)
	}
	bs := c.block.BlockSize()
	switch c.mode {
	case kmip14.BlockCipherModeECB, kmip14.BlockCipherModeCBC:
		in := data
		switch {
		case !final && c.encrypt:
			in = data[:len(data)/bs*bs]
		case !final && c.padded() && len(data) > 0:
			in = data[:(len(data)-1)/bs*bs]
		case !final:
			in = data[:len(data)/bs*bs]
		case c.encrypt && c.padding == kmip14.PaddingMethodPKCS5:
			n := bs - len(data)%bs
			in = append(bytes.Clone(data), bytes.Repeat([]byte{byte(n)}, n)...)
		case c.encrypt && c.padding == kmip14.PaddingMethodZeros && len(data)%bs != 0:
			in = append(bytes.Clone(data), make([]byte, bs-len(data)%bs)...)
		}
		if len(in)%bs != 0 {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "the data is not a multiple of the %d-byte block and no padding is set", bs)
		}
		out = make([]byte, len(in))
		if c.mode == kmip14.BlockCipherModeECB {
			for i := 0; i < len(in); i += bs {
				if c.encrypt {
					c.block.Encrypt(out[i:i+bs], in[i:i+bs])
				} else {
					c.block.Decrypt(out[i:i+bs], in[i:i+bs])
				}
			}
		} else if len(in) > 0 {
			if c.encrypt {
				cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(out, in)
			} else {
				cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(out, in)
			}
		}
		if final && !c.encrypt && c.padding == kmip14.PaddingMethodPKCS5 {
			if out, err = unpadPKCS5(out, bs); err != nil {
				return nil, nil, err
			}
		}
		return out, nil, nil
	case kmip14.BlockCipherModeCTR:
		out = make([]byte, len(data))
		cipher.NewCTR(c.block, c.iv).XORKeyStream(out, data)
		return out, nil, nil
	case kmip14.BlockCipherModeGCM:
		aead, err := cipher.NewGCMWithNonceSize(c.block, len(c.iv))
		if err != nil {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "GCM: %v", err)
		}
		// GCM encrypts with a key stream, so sealing the ciphertext gives
		// back the plaintext; the tag of a truncated length is a prefix
		// of the full one.
		sealed := aead.Seal(nil, c.iv, data, c.aad)
		out = sealed[:len(data)]
		if !final {
			return out, nil, nil
		}
		if c.encrypt {
			return out, sealed[len(data) : len(data)+c.tagLen], nil
		}
		if len(tag) != c.tagLen {
			return nil, nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "the Authenticated Encryption Tag is %d bytes, the Tag Length %d", len(tag), c.tagLen)
		}
		full := aead.Seal(nil, c.iv, out, c.aad)
		if subtle.ConstantTimeCompare(full[len(out):len(out)+c.tagLen], tag) != 1 {
			clear(out)
			return nil, nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "the Authenticated Encryption Tag does not verify")
		}
		return out, nil, nil
	case kmip14.BlockCipherModeNISTKeyWrap, kmip14.BlockCipherModeAESKeyWrapPadding:
		pad := c.mode == kmip14.BlockCipherModeAESKeyWrapPadding
		if c.encrypt {
			out, err = wrapKW(c.block, data, pad)
		} else {
			out, err = unwrapKW(c.block, data, pad)
		}
		return out, nil, err
	}
	return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "Block Cipher Mode %s is not supported", c.mode)
}

// runChacha is run for ChaCha20 and ChaCha20-Poly1305. A 16-byte IV is a
// 32-bit little-endian block counter followed by a 12-byte nonce.
func (c *symCipher) runChacha(data []byte, final bool, tag []byte) (out, outTag []byte, err error) {
	if !c.chachaPoly {
		nonce, counter := c.iv, uint64(0)
		if len(nonce) == 16 {
			counter, nonce = uint64(binary.LittleEndian.Uint32(nonce)), nonce[4:]
		}
		out = make([]byte, len(data))
		chachaKeyStream(out, data, c.chacha, nonce, counter)
		return out, nil, nil
	}
	aead := chachaPoly{key: c.chacha}
	sealed := aead.Seal(c.iv, data, c.aad)
	out = sealed[:len(data)]
	switch {
	case !final:
		return out, nil, nil
	case c.encrypt:
		return out, sealed[len(data) : len(data)+c.tagLen], nil
	}
	full := aead.Seal(c.iv, out, c.aad)
	if len(tag) != c.tagLen || subtle.ConstantTimeCompare(full[len(out):len(out)+c.tagLen], tag) != 1 {
		clear(out)
		return nil, nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "the Authenticated Encryption Tag does not verify")
	}
	return out, nil, nil
}

func unpadPKCS5(b []byte, bs int) ([]byte, error) {
	if len(b) == 0 {
		return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "the data has no PKCS#5 padding")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > bs || n > len(b) {
		return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "the PKCS#5 padding is not valid")
	}
	for _, v := range b[len(b)-n:] {
		if int(v) != n {
			return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "the PKCS#5 padding is not valid")
		}
	}
	return b[:len(b)-n], nil
}

// errUnwrap is the answer to wrapped data that does not unwrap: the
// integrity check of KW and KWP failed.
var errUnwrap = message.Errorf(kmip20.ResultReasonCryptographicFailure, "the wrapped data failed its integrity check")

// kwIV is the default IV of KW (RFC 3394 section 2.2.3.1); kwpIV the
// constant half of KWP's (RFC 5649 section 3).
var (
	kwIV  = []byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}
	kwpIV = []byte{0xA6, 0x59, 0x59, 0xA6}
)

// wrapKW wraps data with AES key wrap (RFC 3394), or with padding (RFC
// 5649) when pad is set.
func wrapKW(b cipher.Block, data []byte, pad bool) ([]byte, error) {
	var iv []byte
	plain := data
	if pad {
		if len(data) == 0 || len(data) > 1<<31 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "KWP wraps 1 to 2^31 bytes")
		}
		iv = append(bytes.Clone(kwpIV), byte(len(data)>>24), byte(len(data)>>16), byte(len(data)>>8), byte(len(data)))
		if r := len(data) % 8; r != 0 {
			plain = append(bytes.Clone(data), make([]byte, 8-r)...)
		}
		if len(plain) == 8 { // one block: a single AES encryption
			out := make([]byte, 16)
			b.Encrypt(out, append(iv, plain...))
			return out, nil
		}
	} else {
		if len(data) < 16 || len(data)%8 != 0 {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "KW wraps a multiple of 8 bytes, at least 16")
		}
		iv = kwIV
	}
	n := len(plain) / 8
	out := make([]byte, 8+len(plain))
	copy(out, iv)
	copy(out[8:], plain)
	var buf [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(buf[:8], out[:8])
			copy(buf[8:], out[8*i:8*i+8])
			b.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			for k := 0; k < 8; k++ {
				buf[7-k] ^= byte(t >> (8 * k))
			}
			copy(out[:8], buf[:8])
			copy(out[8*i:], buf[8:])
		}
	}
	return out, nil
}

// unwrapKW is the inverse of wrapKW; any failure is errUnwrap.
func unwrapKW(b cipher.Block, data []byte, pad bool) ([]byte, error) {
	if len(data) < 16 || len(data)%8 != 0 {
		return nil, errUnwrap
	}
	var a []byte
	var plain []byte
	if pad && len(data) == 16 {
		buf := make([]byte, 16)
		b.Decrypt(buf, data)
		a, plain = buf[:8], buf[8:]
	} else {
		n := len(data)/8 - 1
		a = bytes.Clone(data[:8])
		r := bytes.Clone(data[8:])
		var buf [16]byte
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				copy(buf[:8], a)
				for k := 0; k < 8; k++ {
					buf[7-k] ^= byte(t >> (8 * k))
				}
				copy(buf[8:], r[8*(i-1):8*i])
				b.Decrypt(buf[:], buf[:])
				copy(a, buf[:8])
				copy(r[8*(i-1):], buf[8:])
			}
		}
		plain = r
	}
	if !pad {
		if subtle.ConstantTimeCompare(a, kwIV) != 1 {
			return nil, errUnwrap
		}
		return plain, nil
	}
	if subtle.ConstantTimeCompare(a[:4], kwpIV) != 1 {
		return nil, errUnwrap
	}
	mli := int(a[4])<<24 | int(a[5])<<16 | int(a[6])<<8 | int(a[7])
	if mli <= len(plain)-8 || mli > len(plain) {
		return nil, errUnwrap
	}
	for _, v := range plain[mli:] {
		if v != 0 {
			return nil, errUnwrap
		}
	}
	return plain[:mli], nil
}

// cmacSum computes AES-CMAC (NIST SP 800-38B, RFC 4493) of data.
func cmacSum(b cipher.Block, data []byte) []byte {
	bs := b.BlockSize()
	rb := byte(0x87)
	if bs == 8 {
		rb = 0x1B
	}
	dbl := func(in []byte) []byte {
		out := make([]byte, bs)
		var carry byte
		for i := bs - 1; i >= 0; i-- {
			out[i] = in[i]<<1 | carry
			carry = in[i] >> 7
		}
		if carry != 0 {
			out[bs-1] ^= rb
		}
		return out
	}
	l := make([]byte, bs)
	b.Encrypt(l, l)
	k1 := dbl(l)
	k2 := dbl(k1)
	n := (len(data) + bs - 1) / bs
	complete := n > 0 && len(data)%bs == 0
	if n == 0 {
		n = 1
	}
	last := make([]byte, bs)
	if complete {
		subtle.XORBytes(last, data[(n-1)*bs:], k1)
	} else {
		rest := data[(n-1)*bs:]
		copy(last, rest)
		last[len(rest)] = 0x80
		subtle.XORBytes(last, last, k2)
	}
	x := make([]byte, bs)
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x, x, data[i*bs:(i+1)*bs])
		b.Encrypt(x, x)
	}
	subtle.XORBytes(x, x, last)
	b.Encrypt(x, x)
	return x
}
