package integration

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pykmipCryptoDriver runs PyKMIP's encrypt, decrypt, sign,
// signature_verify, mac and create_key_pair against the server.
const pykmipCryptoDriver = "testdata/pykmip_crypto.py"

// pyCrypto is the driver's output; every field holds hex.
type pyCrypto struct {
	Fatal     *pyFailure `json:"fatal"`
	Message   string     `json:"message"`
	Symmetric struct {
		pyFailure
		Key string            `json:"key"`
		CBC map[string]string `json:"CBC"`
		CTR map[string]string `json:"CTR"`
	} `json:"symmetric"`
	RSA struct {
		pyFailure
		PublicKey string            `json:"public_key"`
		PSS       map[string]string `json:"pss"`
		PKCS1     map[string]string `json:"pkcs1"`
		OAEP      map[string]string `json:"oaep"`
	} `json:"rsa"`
	EC struct {
		pyFailure
		PublicKey string `json:"public_key"`
		Signature string `json:"signature"`
		Verify    string `json:"verify"`
	} `json:"ec"`
	MAC struct {
		pyFailure
		MAC string `json:"mac"`
		Key string `json:"key"`
	} `json:"mac"`
}

// TestPyKMIPCrypto drives the cryptographic operations through Debian's
// PyKMIP client at KMIP 1.2 to 2.0 and checks every result with Go's own
// cryptography: AES-256 CBC and CTR encryption with the key Get returns
// (not GCM, whose tag PyKMIP 0.10 neither sends nor reads), RSA-2048 PSS
// and PKCS#1 v1.5 signatures and OAEP encryption, ECDSA P-256 signatures
// (with the public keys Get returns; both pairs made by create_key_pair),
// HMAC-SHA256, and the server's own verdicts on good and tampered
// signatures.
func TestPyKMIPCrypto(t *testing.T) {
	s := mainServer(t)
	requirePyKMIP(t)
	for _, version := range []string{"1.2", "1.3", "1.4", "2.0"} {
		t.Run("KMIP_"+version, func(t *testing.T) {
			t.Parallel()
			var got pyCrypto
			runPyScript(t, s, pykmipCryptoDriver, &got, "--version", version)
			require.Nil(t, got.Fatal, "PyKMIP failed: %+v", got.Fatal)
			msg := unhexT(t, got.Message)

			sym := got.Symmetric
			require.Nil(t, sym.Error, "symmetric: %+v", sym.pyFailure)
			block, err := aes.NewCipher(unhexT(t, sym.Key))
			require.NoError(t, err)
			for mode, r := range map[string]map[string]string{"CBC": sym.CBC, "CTR": sym.CTR} {
				ct, iv := unhexT(t, r["ciphertext"]), unhexT(t, r["iv"])
				require.NotEmpty(t, iv, "%s: the server generates and returns the IV", mode)
				var plain []byte
				switch mode {
				case "CBC":
					require.Zero(t, len(ct)%16)
					plain = make([]byte, len(ct))
					cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
					plain = plain[:len(plain)-int(plain[len(plain)-1])]
				case "CTR":
					plain = make([]byte, len(ct))
					cipher.NewCTR(block, iv).XORKeyStream(plain, ct)
				}
				assert.Equal(t, msg, plain, "%s: Go decrypts what the server encrypted", mode)
				assert.Equal(t, got.Message, r["plain"], "%s: the server decrypts its own", mode)
			}

			r := got.RSA
			require.Nil(t, r.Error, "rsa: %+v", r.pyFailure)
			pub, err := x509.ParsePKCS1PublicKey(unhexT(t, r.PublicKey))
			require.NoError(t, err)
			digest := sha256.Sum256(msg)
			assert.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, digest[:], unhexT(t, r.PSS["signature"]), nil), "PSS")
			assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], unhexT(t, r.PKCS1["signature"])), "PKCS#1 v1.5")
			for name, v := range map[string]map[string]string{"PSS": r.PSS, "PKCS1": r.PKCS1} {
				assert.Equal(t, "VALID", v["verify"], name)
				assert.Equal(t, "INVALID", v["verify_tampered"], name)
			}
			assert.Len(t, unhexT(t, r.OAEP["ciphertext"]), 256)
			assert.Equal(t, got.Message, r.OAEP["plain"], "OAEP round trip")

			e := got.EC
			require.Nil(t, e.Error, "ec: %+v", e.pyFailure)
			ecPub, err := x509.ParsePKIXPublicKey(unhexT(t, e.PublicKey))
			require.NoError(t, err)
			require.IsType(t, &ecdsa.PublicKey{}, ecPub)
			assert.True(t, ecdsa.VerifyASN1(ecPub.(*ecdsa.PublicKey), digest[:], unhexT(t, e.Signature)), "ECDSA")
			assert.Equal(t, "VALID", e.Verify)

			m := got.MAC
			require.Nil(t, m.Error, "mac: %+v", m.pyFailure)
			h := hmac.New(sha256.New, unhexT(t, m.Key))
			h.Write(msg)
			assert.Equal(t, hex.EncodeToString(h.Sum(nil)), m.MAC, "HMAC-SHA256")
		})
	}
}

func unhexT(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// runPyScript runs a PyKMIP driver script against s and decodes its JSON
// output into out; a driver exits 1 after printing a "fatal" result.
func runPyScript(t testing.TB, s *server, script string, out any, args ...string) {
	t.Helper()
	_, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	argv := append([]string{script, "--port", port, "--pki", s.pki("")}, args...)
	stdout, stderr, err := runSplit(exec.Command(systemPython, argv...), cmdTimeout)
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", systemPython, argv, err, stdout, stderr)
		}
	}
	require.NoError(t, json.Unmarshal(stdout, out), "driver output: %s\nstderr: %s", stdout, stderr)
}
