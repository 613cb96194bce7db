package ops

import (
	"bytes"
	"crypto/aes"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
)

// FuzzSymmetric runs what clients send to Encrypt and Decrypt through
// every symmetric mode with every padding: nothing may panic, and what a
// mode encrypts it decrypts back. Unwrapping bytes that are no wrapped key
// fails with errUnwrap.
func FuzzSymmetric(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("iv iv iv iv iv i"), uint8(1), uint8(3), []byte("data"))
	f.Add([]byte{}, []byte{}, uint8(12), uint8(1), bytes.Repeat([]byte{0xA6}, 24))
	f.Add([]byte("k"), []byte{1}, uint8(9), uint8(0), []byte{})
	block, err := aes.NewCipher([]byte("0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	modes := []uint8{1, 2, 6, 9, 12, 13}
	f.Fuzz(func(t *testing.T, tag, iv []byte, mode, padding uint8, data []byte) {
		c := symCipher{block: block, mode: modeOf(modes, mode), padding: paddingOf(padding), iv: iv, tagLen: 16, encrypt: true}
		if c.check() != nil {
			return
		}
		out, gotTag, err := c.run(data, true, nil)
		if err == nil {
			d := c
			d.encrypt = false
			plain, _, err := d.run(out, true, gotTag)
			if c.padding != 5 && (err != nil || !bytes.Equal(plain, data)) { // Zeros padding is not removed
				t.Fatalf("mode %v padding %v: round trip failed: %v", c.mode, c.padding, err)
			}
		}
		d := c
		d.encrypt = false
		_, _, _ = d.run(data, true, tag)
		if _, err := unwrapKW(block, data, mode%2 == 0); err != nil && err != errUnwrap {
			t.Fatalf("unwrap: %v", err)
		}
	})
}

func modeOf(modes []uint8, i uint8) (m kmip14.BlockCipherMode) {
	return kmip14.BlockCipherMode(modes[int(i)%len(modes)])
}

func paddingOf(i uint8) kmip14.PaddingMethod {
	return []kmip14.PaddingMethod{0, 1, 3, 5}[int(i)%4]
}
