package integration

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// keptParams are Cryptographic Parameters as a client sends them.
type keptParams struct {
	BlockCipherMode  kmip14.BlockCipherMode  `ttlv:",omitempty"`
	PaddingMethod    kmip14.PaddingMethod    `ttlv:",omitempty"`
	HashingAlgorithm kmip14.HashingAlgorithm `ttlv:",omitempty"`
}

type keptReq struct {
	UniqueIdentifier           string
	CryptographicParameters    *keptParams `ttlv:",omitempty"`
	Data                       []byte      `ttlv:",omitempty"`
	IVCounterNonce             []byte      `ttlv:",omitempty"`
	AuthenticatedEncryptionTag []byte      `ttlv:",omitempty"`
}

type keptResp struct {
	UniqueIdentifier           string
	Data                       []byte
	IVCounterNonce             []byte
	AuthenticatedEncryptionTag []byte
	SignatureData              []byte
	MACData                    []byte `ttlv:"MACData"`
}

// reasonOf is the Result Reason of a failed call.
func reasonOf(err error) kmip20.ResultReason {
	var re *client.ResultError
	if errors.As(err, &re) {
		return re.Reason
	}
	return 0
}

// TestNonExtractableKeysOnTheHSM runs the real server on SoftHSM2: keys
// created non-Extractable (KMIP 2.0) are made and kept in the HSM. Get
// refuses them with Not Extractable, while Encrypt and Decrypt (GCM),
// MAC (CMAC), wrapping another key (Get with a Key Wrapping
// Specification, then Register of the wrapped block) and, for a kept RSA
// private key, Sign (checked with the public key Get returns) and Decrypt
// (RSA-OAEP), for a kept HMAC key, MAC work.
// backend/pkcs11's TestKeptKeysStayInTheHSM shows, from the module's
// calls, that such a key's value never leaves the HSM.
func TestNonExtractableKeysOnTheHSM(t *testing.T) {
	s := mainServer(t)
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
	activeNow := kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: time.Now().Add(-time.Minute)}
	notExtractable := kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false}

	var kek kmiptest.UID
	require.NoError(t, call(kmip20.OperationCreate, struct {
		ObjectType kmip14.ObjectType
		Attributes ttlv.TTLV
	}{kmip14.ObjectTypeSymmetricKey, kmiptest.Attributes2(
		kmiptest.Attr1{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmAES},
		kmiptest.Attr1{AttributeName: "Cryptographic Length", AttributeValue: int32(256)},
		kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt |
			kmip14.CryptographicUsageMaskWrapKey | kmip14.CryptographicUsageMaskUnwrapKey | kmip14.CryptographicUsageMaskMACGenerate},
		notExtractable, activeNow)}, &kek))

	err = call(kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: kek.UniqueIdentifier}, nil)
	assert.Equal(t, kmip20.ResultReasonNotExtractable, reasonOf(err), "%v", err)

	plain := []byte("encrypted and decrypted inside the HSM")
	gcm := &keptParams{BlockCipherMode: kmip14.BlockCipherModeGCM}
	var enc, dec keptResp
	require.NoError(t, call(kmip20.OperationEncrypt, keptReq{UniqueIdentifier: kek.UniqueIdentifier, CryptographicParameters: gcm, Data: plain}, &enc))
	require.Len(t, enc.IVCounterNonce, 12)
	require.Len(t, enc.AuthenticatedEncryptionTag, 16)
	require.NoError(t, call(kmip20.OperationDecrypt, keptReq{UniqueIdentifier: kek.UniqueIdentifier, CryptographicParameters: gcm, Data: enc.Data,
		IVCounterNonce: enc.IVCounterNonce, AuthenticatedEncryptionTag: enc.AuthenticatedEncryptionTag}, &dec))
	assert.Equal(t, plain, dec.Data)
	enc.AuthenticatedEncryptionTag[0] ^= 1
	err = call(kmip20.OperationDecrypt, keptReq{UniqueIdentifier: kek.UniqueIdentifier, CryptographicParameters: gcm, Data: enc.Data,
		IVCounterNonce: enc.IVCounterNonce, AuthenticatedEncryptionTag: enc.AuthenticatedEncryptionTag}, nil)
	assert.Equal(t, kmip20.ResultReasonCryptographicFailure, reasonOf(err), "%v", err)

	var mac keptResp
	require.NoError(t, call(kmip20.OperationMAC, keptReq{UniqueIdentifier: kek.UniqueIdentifier, Data: plain}, &mac))
	assert.Len(t, mac.MACData, 16, "CMAC")

	// Wrap a key that may leave under the kept key, then register the
	// wrapped block: the new object holds the same material.
	secret := []byte("0123456789abcdef0123456789abcdef")
	var plainKey kmiptest.UID
	require.NoError(t, call(kmip20.OperationRegister, kmiptest.Register(message.V2_0, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
		KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: kmiptest.KeyValue{KeyMaterial: secret},
		CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: 256,
	}}, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt}), &plainKey))
	var wrapped struct {
		ObjectType       kmip14.ObjectType
		UniqueIdentifier string
		SymmetricKey     ttlv.TTLV
	}
	require.NoError(t, call(kmip20.OperationGet, struct {
		UniqueIdentifier         string
		KeyWrappingSpecification struct {
			WrappingMethod           kmip14.WrappingMethod
			EncryptionKeyInformation kmiptest.UID
			EncodingOption           kmip14.EncodingOption
		}
	}{UniqueIdentifier: plainKey.UniqueIdentifier, KeyWrappingSpecification: struct {
		WrappingMethod           kmip14.WrappingMethod
		EncryptionKeyInformation kmiptest.UID
		EncodingOption           kmip14.EncodingOption
	}{kmip14.WrappingMethodEncrypt, kek, kmip14.EncodingOptionNoEncoding}}, &wrapped))
	assert.Contains(t, wrapped.SymmetricKey.String(), "KeyWrappingData")
	var rewrapped kmiptest.UID
	require.NoError(t, call(kmip20.OperationRegister, struct {
		ObjectType   kmip14.ObjectType
		Attributes   ttlv.TTLV
		SymmetricKey ttlv.TTLV
	}{kmip14.ObjectTypeSymmetricKey, kmiptest.Attributes2(kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt}), wrapped.SymmetricKey}, &rewrapped))
	var got kmiptest.GetResponse
	require.NoError(t, call(kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: rewrapped.UniqueIdentifier}, &got))
	material, _ := got.KeyBlock().Material()
	assert.Equal(t, secret, material.ValueByteString(), "unwrapped by the kept key, in the HSM")

	// A kept RSA private key signs; its public key verifies.
	var pair struct {
		PrivateKeyUniqueIdentifier string
		PublicKeyUniqueIdentifier  string
	}
	require.NoError(t, call(kmip20.OperationCreateKeyPair, struct {
		CommonAttributes     ttlv.TTLV
		PrivateKeyAttributes ttlv.TTLV
		PublicKeyAttributes  ttlv.TTLV
	}{
		retag(kmip20.TagCommonAttributes,
			kmiptest.Attr1{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmRSA},
			kmiptest.Attr1{AttributeName: "Cryptographic Length", AttributeValue: int32(2048)}, activeNow),
		retag(kmip20.TagPrivateKeyAttributes, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskSign | kmip14.CryptographicUsageMaskDecrypt}, notExtractable),
		retag(kmip20.TagPublicKeyAttributes, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskVerify | kmip14.CryptographicUsageMaskEncrypt}),
	}, &pair))
	err = call(kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: pair.PrivateKeyUniqueIdentifier}, nil)
	assert.Equal(t, kmip20.ResultReasonNotExtractable, reasonOf(err), "%v", err)
	var sig keptResp
	pss := &keptParams{PaddingMethod: kmip14.PaddingMethodPSS, HashingAlgorithm: kmip14.HashingAlgorithmSHA_256}
	require.NoError(t, call(kmip20.OperationSign, keptReq{UniqueIdentifier: pair.PrivateKeyUniqueIdentifier, CryptographicParameters: pss, Data: plain}, &sig))
	var pub kmiptest.GetResponse
	require.NoError(t, call(kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: pair.PublicKeyUniqueIdentifier}, &pub))
	der, _ := pub.KeyBlock().Material()
	rsaPub, err := x509.ParsePKCS1PublicKey(der.ValueByteString())
	require.NoError(t, err)
	digest := sha256.Sum256(plain)
	assert.NoError(t, rsa.VerifyPSS(rsaPub, crypto.SHA256, digest[:], sig.SignatureData, nil), "signed in the HSM, verified by Go")

	// The kept RSA private key decrypts what Go encrypted with its public
	// key (RSA-OAEP with SHA-1, the default and what SoftHSM2 offers).
	sealed, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, rsaPub, plain, nil)
	require.NoError(t, err)
	var opened keptResp
	require.NoError(t, call(kmip20.OperationDecrypt, keptReq{UniqueIdentifier: pair.PrivateKeyUniqueIdentifier, Data: sealed}, &opened))
	assert.Equal(t, plain, opened.Data, "decrypted in the HSM")
	sealed[3] ^= 1
	err = call(kmip20.OperationDecrypt, keptReq{UniqueIdentifier: pair.PrivateKeyUniqueIdentifier, Data: sealed}, nil)
	assert.Equal(t, kmip20.ResultReasonCryptographicFailure, reasonOf(err), "%v", err)

	// A registered non-Extractable HMAC key enters the HSM; its MAC there
	// is Go's HMAC-SHA256 with the material.
	hmacKey := []byte("an HMAC-SHA256 key of 32 bytes!!")
	var kept kmiptest.UID
	require.NoError(t, call(kmip20.OperationRegister, kmiptest.Register(message.V2_0, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
		KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: kmiptest.KeyValue{KeyMaterial: hmacKey},
		CryptographicAlgorithm: kmip14.CryptographicAlgorithmHMAC_SHA256, CryptographicLength: 256,
	}}, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskMACGenerate | kmip14.CryptographicUsageMaskMACVerify},
		notExtractable, activeNow), &kept))
	err = call(kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: kept.UniqueIdentifier}, nil)
	assert.Equal(t, kmip20.ResultReasonNotExtractable, reasonOf(err), "%v", err)
	var hmacOut keptResp
	require.NoError(t, call(kmip20.OperationMAC, keptReq{UniqueIdentifier: kept.UniqueIdentifier, Data: plain}, &hmacOut))
	goMAC := hmac.New(sha256.New, hmacKey)
	goMAC.Write(plain)
	assert.Equal(t, goMAC.Sum(nil), hmacOut.MACData, "HMAC in the HSM")
}

// retag is a 2.x Attributes structure of attrs tagged tag (Common
// Attributes, Private Key Attributes...).
func retag(tag ttlv.Tag, attrs ...kmiptest.Attr1) ttlv.TTLV {
	return attr.Retag(kmiptest.Attributes2(attrs...), tag)
}
