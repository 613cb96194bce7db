package ops

import (
	"crypto/aes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestKeyWrap checks KW and KWP against the examples of RFC 3394 (4.1,
// 4.6) and RFC 5649 (section 6), and that a changed byte fails to unwrap.
func TestKeyWrap(t *testing.T) {
	tests := []struct {
		name           string
		kek, key, want string
		pad            bool
	}{
		{"RFC 3394 4.1", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", false},
		{"RFC 3394 4.6", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21", false},
		{"RFC 5649 20 bytes", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a", true},
		{"RFC 5649 7 bytes", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := aes.NewCipher(unhex(t, tt.kek))
			require.NoError(t, err)
			wrapped, err := wrapKW(b, unhex(t, tt.key), tt.pad)
			require.NoError(t, err)
			assert.Equal(t, unhex(t, tt.want), wrapped)
			plain, err := unwrapKW(b, wrapped, tt.pad)
			require.NoError(t, err)
			assert.Equal(t, unhex(t, tt.key), plain)
			wrapped[3] ^= 1
			_, err = unwrapKW(b, wrapped, tt.pad)
			assert.ErrorIs(t, err, errUnwrap)
		})
	}
}

// TestCMAC checks AES-CMAC against RFC 4493 section 4.
func TestCMAC(t *testing.T) {
	b, err := aes.NewCipher(unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	require.NoError(t, err)
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		assert.Equal(t, tt.want, hex.EncodeToString(cmacSum(b, msg[:tt.n])), "length %d", tt.n)
	}
}

// TestChaCha20Poly1305 checks the AEAD against RFC 8439 section 2.8.2
// and ChaCha20 against section 2.4.2 (counter 1, 12-byte nonce, given as
// a 16-byte IV).
func TestChaCha20Poly1305(t *testing.T) {
	key := unhex(t, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
	plain := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	sealed := chachaPoly{key: key}.Seal(unhex(t, "070000004041424344454647"), plain, unhex(t, "50515253c0c1c2c3c4c5c6c7"))
	assert.Equal(t, "1ae10b594f09e26a7e902ecbd0600691", hex.EncodeToString(sealed[len(plain):]))
	assert.Equal(t, "d31a8d34648e60db7b86afbc53ef7ec2", hex.EncodeToString(sealed[:16]))

	c := &symCipher{chacha: unhex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
		iv: unhex(t, "01000000000000000000004a00000000"), encrypt: true}
	require.NoError(t, c.check())
	out, _, err := c.run(plain, true, nil)
	require.NoError(t, err)
	assert.Equal(t, "6e2e359a2568f98041ba0728dd0d6981", hex.EncodeToString(out[:16]))
}

// TestSymmetricStreaming checks that a mode run in parts answers, part by
// part, exactly what it answers in one go, and that GCM verifies its tag
// and refuses a changed one.
func TestSymmetricStreaming(t *testing.T) {
	b, err := aes.NewCipher(unhex(t, "0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	data := make([]byte, 75)
	for i := range data {
		data[i] = byte(i)
	}
	tests := []struct {
		name string
		c    symCipher
	}{
		{"CBC PKCS5", symCipher{mode: 1, padding: 3, iv: make([]byte, 16)}},
		{"ECB PKCS5", symCipher{mode: 2, padding: 3}},
		{"CTR", symCipher{mode: 6, iv: make([]byte, 16)}},
		{"GCM 8-byte nonce", symCipher{mode: 9, iv: unhex(t, "cafebabefacedbad"), aad: []byte("aad"), tagLen: 16}},
		{"GCM 12-byte tag", symCipher{mode: 9, iv: make([]byte, 12), tagLen: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.c
			enc.block, enc.encrypt = b, true
			require.NoError(t, enc.check())
			whole, tag, err := enc.run(data, true, nil)
			require.NoError(t, err)
			var parts []byte
			emitted := 0
			for _, end := range []int{7, 33, 50, len(data)} {
				out, ptag, err := enc.run(data[:end], end == len(data), nil)
				require.NoError(t, err)
				parts = append(parts, out[emitted:]...)
				emitted = len(out)
				if end == len(data) {
					assert.Equal(t, tag, ptag)
				}
			}
			assert.Equal(t, whole, parts)

			dec := tt.c
			dec.block = b
			plain, _, err := dec.run(whole, true, tag)
			require.NoError(t, err)
			assert.Equal(t, data, plain)
			if tag != nil {
				bad := append([]byte(nil), tag...)
				bad[0] ^= 1
				_, _, err := dec.run(whole, true, bad)
				assert.ErrorContains(t, err, "does not verify")
			}
		})
	}
}
