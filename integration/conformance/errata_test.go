package conformance

import (
	"crypto/aes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErratumCSBCM613Evidence recomputes the evidence of the erratum:
// AES-128 of the vector's block under the vector's key is the corrected
// value, not the published one.
func TestErratumCSBCM613Evidence(t *testing.T) {
	e := errata["CS-BC-M-6-13"]
	key, _ := hex.DecodeString("0123456789abcdef0123456789abcdef")
	plain, _ := hex.DecodeString("01020304050607080910111213141516")
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	out := make([]byte, 16)
	block.Encrypt(out, plain)
	assert.Equal(t, e.Right, hex.EncodeToString(out))
	assert.NotEqual(t, e.Wrong, hex.EncodeToString(out))
}

func encryptVector(data string) string {
	return `<KMIP>
<RequestMessage>` + header14 + `
  <BatchItem>
    <Operation type="Enumeration" value="Decrypt"/>
    <RequestPayload><Data type="ByteString" value="` + data + `"/></RequestPayload>
  </BatchItem>
</RequestMessage>
<ResponseMessage>` + respHeader14("$NOW") + `
  <BatchItem>
    <Operation type="Enumeration" value="Decrypt"/>
    <ResultStatus type="Enumeration" value="Success"/>
    <ResponsePayload><Data type="ByteString" value="` + data + `"/></ResponsePayload>
  </BatchItem>
</ResponseMessage>
</KMIP>`
}

func TestApplyErratum(t *testing.T) {
	e := Erratum{Wrong: "0a0b", Right: "0c0d", Why: "test"}
	v, err := ParseVector("CS-BC-M-6-14", []byte(encryptVector("0a0b")))
	require.NoError(t, err)
	note, err := applyErratum(v, e)
	require.NoError(t, err)
	assert.Contains(t, note, "2 items")
	for _, n := range []*Node{v.Exchanges[0].Request, v.Exchanges[0].Response} {
		var found []byte
		n.Walk(func(x *Node) {
			if b, ok := x.Value.([]byte); ok {
				found = b
			}
		})
		assert.Equal(t, []byte{0x0c, 0x0d}, found)
	}

	// A file that no longer holds the wrong value fails: the erratum is
	// to be reviewed, not silently kept.
	v, err = ParseVector("CS-BC-M-6-14", []byte(encryptVector("0c0d")))
	require.NoError(t, err)
	_, err = applyErratum(v, e)
	assert.ErrorContains(t, err, "no longer in the file")
}
