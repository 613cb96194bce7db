package integration

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// transportKeyInfo is the Encryption Key Information of a TKEK import.
type transportKeyInfo struct {
	UniqueIdentifier        string
	CryptographicParameters *keptParams `ttlv:",omitempty"`
}

// transportWrappedKeyBlock is a Key Block wrapped under a transport key:
// the Key Value is the Byte String the client encrypted.
type transportWrappedKeyBlock struct {
	KeyFormatType          kmip14.KeyFormatType
	KeyValue               []byte
	CryptographicAlgorithm kmip14.CryptographicAlgorithm
	CryptographicLength    int32
	KeyWrappingData        struct {
		WrappingMethod           kmip14.WrappingMethod
		EncryptionKeyInformation transportKeyInfo
		EncodingOption           kmip14.EncodingOption
	}
}

// TestImportThroughTKEK runs the real server on SoftHSM2: the TKEK public
// key comes from `kmipctl hsm tkek export`, our client encrypts AES keys
// under it with RSA-OAEP (SHA-1, the SoftHSM2 profile) and registers
// them with Key Wrapping Data naming transport:TKEK-02. A non-Extractable
// one is unwrapped inside the HSM and kept (Get refuses it), an
// Extractable one is decrypted in the HSM and sealed (Get returns the
// same key value); both encrypt with AES-GCM exactly as the client's key
// does. Material encrypted under another TKEK is refused.
func TestImportThroughTKEK(t *testing.T) {
	s := mainServer(t)
	out, err := runWithTimeout(exec.Command(bin(t, "kmipctl"), "hsm", "tkek", "export", "TKEK-02", "--config", filepath.Join(s.dir, "config.yaml")), time.Minute)
	require.NoError(t, err, "%s", out)
	require.True(t, strings.HasPrefix(string(out), "# TKEK-02 RSA-OAEP SHA1"), "%s", out)
	blk, _ := pem.Decode(out[strings.IndexByte(string(out), '\n')+1:])
	require.NotNil(t, blk, "%s", out)
	parsed, err := x509.ParsePKIXPublicKey(blk.Bytes)
	require.NoError(t, err)
	pub := parsed.(*rsa.PublicKey)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := client.Dial(ctx, s.addr, s.clientTLS(t), client.Options{Version: message.V2_0})
	require.NoError(t, err)
	defer conn.Close()
	call := func(op kmip20.Operation, payload any, out any) error {
		t.Helper()
		got, err := conn.Call(ctx, op, payload)
		if err == nil && out != nil {
			require.NoError(t, client.Decode(got, out))
		}
		return err
	}
	register := func(key []byte, tkek string, extractable bool) (string, error) {
		enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
		require.NoError(t, err)
		kb := transportWrappedKeyBlock{KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: enc,
			CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: int32(len(key) * 8)}
		kb.KeyWrappingData.WrappingMethod = kmip14.WrappingMethodEncrypt
		kb.KeyWrappingData.EncryptionKeyInformation = transportKeyInfo{UniqueIdentifier: "transport:" + tkek,
			CryptographicParameters: &keptParams{PaddingMethod: kmip14.PaddingMethodOAEP, HashingAlgorithm: kmip14.HashingAlgorithmSHA_1}}
		kb.KeyWrappingData.EncodingOption = kmip14.EncodingOptionNoEncoding
		var id kmiptest.UID
		err = call(kmip20.OperationRegister, kmiptest.Register(message.V2_0, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock any }{kb},
			kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt},
			kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: extractable},
			kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: time.Now().Add(-time.Minute)}), &id)
		return id.UniqueIdentifier, err
	}
	for _, tt := range []struct {
		name        string
		extractable bool
	}{{"kept in the HSM", false}, {"sealed", true}} {
		t.Run(tt.name, func(t *testing.T) {
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			id, err := register(key, "TKEK-02", tt.extractable)
			require.NoError(t, err)

			var got kmiptest.GetResponse
			err = call(kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id}, &got)
			if tt.extractable {
				require.NoError(t, err)
				material, _ := got.KeyBlock().Material()
				assert.Equal(t, key, material.ValueByteString(), "Get returns the key the client encrypted under the TKEK")
			} else {
				assert.Equal(t, kmip20.ResultReasonNotExtractable, reasonOf(err), "%v", err)
			}

			plain := []byte("data encrypted with the imported key")
			var enc keptResp
			require.NoError(t, call(kmip20.OperationEncrypt, keptReq{UniqueIdentifier: id, CryptographicParameters: &keptParams{BlockCipherMode: kmip14.BlockCipherModeGCM}, Data: plain}, &enc))
			blk, err := aes.NewCipher(key)
			require.NoError(t, err)
			aead, err := cipher.NewGCM(blk)
			require.NoError(t, err)
			opened, err := aead.Open(nil, enc.IVCounterNonce, slices.Concat(enc.Data, enc.AuthenticatedEncryptionTag), nil)
			require.NoError(t, err, "the server encrypted with the client's key")
			assert.Equal(t, plain, opened)
		})
	}

	_, err = register(make([]byte, 32), "TKEK-03", false) // encrypted under TKEK-02's key, named TKEK-03
	assert.Equal(t, kmip20.ResultReasonCryptographicFailure, reasonOf(err), "%v", err)
	_, err = register(make([]byte, 32), "NO-SUCH-TKEK", true)
	assert.Equal(t, kmip20.ResultReasonCryptographicFailure, reasonOf(err), "%v", err)
}
