package conformance

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/gemalto/kmip-go/ttlv"
)

// Erratum is a documented error in a published vector file, with its
// correction. The runner applies the correction and replays the file; a
// file passed with an erratum says so in its result line. A correction
// that no longer finds its value fails the file, so a fixed or changed
// vector is noticed.
type Erratum struct {
	// Wrong and Right are Byte String values: every item of the file
	// (request or response) whose value is Wrong is given Right.
	Wrong, Right string
	// Why is the evidence, in one line for the report.
	Why string
}

// errata are the known-bad vectors, by file name.
//
// CS-BC-M-6-13 (KMIP 1.3 profiles, cos01): it registers the AES-128 key
// 0123456789abcdef0123456789abcdef (Raw), encrypts
// 01020304050607080910111213141516 in ECB mode without padding, expects
// fd912d102dbb482f6f6e91bd57119095, and decrypts that back. AES-128 of
// that block under that key is d9bcce11b0b437b90239552df3a360c9 (FIPS 197
// AES as Go's crypto/aes and OpenSSL 3 compute it: `openssl enc
// -aes-128-ecb -K 0123456789abcdef0123456789abcdef -nopad`); no
// transformation of the key (ASCII text, byte order, zero key) or of the
// plaintext gives fd912d10…. That value is the ciphertext of the same
// plaintext under the *created* (random) key of CS-BC-M-1-13, the file
// this one was evidently copied from; CS-BC-M-6-14, -20 and -21, identical
// otherwise, expect d9bcce11… and pass. The correction turns 6-13 into
// 6-14 at KMIP 1.3.
var errata = map[string]Erratum{
	"CS-BC-M-6-13": {
		Wrong: "fd912d102dbb482f6f6e91bd57119095",
		Right: "d9bcce11b0b437b90239552df3a360c9",
		Why:   "the ciphertext is CS-BC-M-1-13's (a random key's), not AES-128-ECB under the registered key; corrected as in CS-BC-M-6-14",
	},
}

// applyErratum corrects v by e and returns the note for the result.
func applyErratum(v *Vector, e Erratum) (string, error) {
	wrong, err := hex.DecodeString(e.Wrong)
	if err != nil {
		return "", err
	}
	right, err := hex.DecodeString(e.Right)
	if err != nil {
		return "", err
	}
	n := 0
	fix := func(node *Node) {
		if b, ok := node.Value.([]byte); ok && node.Type == ttlv.TypeByteString && bytes.Equal(b, wrong) {
			node.Value, node.Text = append([]byte(nil), right...), e.Right
			n++
		}
	}
	for _, ex := range v.Exchanges {
		ex.Request.Walk(fix)
		ex.Response.Walk(fix)
	}
	if n == 0 {
		return "", fmt.Errorf("erratum: %s is no longer in the file; review the erratum (%s)", e.Wrong, e.Why)
	}
	return fmt.Sprintf("erratum applied to %d items: %s", n, e.Why), nil
}
