package ops_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// goKeeper is a KeyKeeper in Go for the operations' tests: its "root of
// trust" is a map of the keys it made, and what it hands out is an index
// into it, so a test sees whether the operations ever hold a key. It
// records what the operations seal.
type goKeeper struct {
	*kmiptest.SoftBackend
	mu     sync.Mutex
	keys   map[string]any // wrapped form -> key
	sealed [][]byte
}

func newGoKeeper() *goKeeper {
	return &goKeeper{SoftBackend: kmiptest.NewSoftBackend(), keys: map[string]any{}}
}

func (g *goKeeper) Seal(ctx context.Context, r backend.SealRequest) ([]byte, error) {
	g.mu.Lock()
	g.sealed = append(g.sealed, append([]byte(nil), r.Plaintext...))
	g.mu.Unlock()
	return g.SoftBackend.Seal(ctx, r)
}

func (g *goKeeper) keep(k any) []byte {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	g.mu.Lock()
	g.keys[string(id)] = k
	g.mu.Unlock()
	return id
}

func (g *goKeeper) kept(w []byte) (any, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, ok := g.keys[string(w)]
	if !ok {
		return nil, backend.ErrIntegrity
	}
	return k, nil
}

func (g *goKeeper) KeepSecretKey(_ context.Context, r backend.KeepSecretKeyRequest) ([]byte, error) {
	k := make([]byte, r.Bits/8)
	_, _ = rand.Read(k)
	if r.Material != nil {
		k = append([]byte(nil), r.Material...)
	}
	return g.keep(k), nil
}

func (g *goKeeper) KeepKeyPair(_ context.Context, r backend.KeepKeyPairRequest) (crypto.PublicKey, []byte, error) {
	if r.RSABits != 0 {
		k, err := rsa.GenerateKey(rand.Reader, r.RSABits)
		if err != nil {
			return nil, nil, err
		}
		return &k.PublicKey, g.keep(k), nil
	}
	k, err := ecdsa.GenerateKey(r.Curve, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return &k.PublicKey, g.keep(k), nil
}

func (g *goKeeper) WithKeptBlock(_ context.Context, r backend.KeptKeyRequest, fn func(cipher.Block) error) error {
	k, err := g.kept(r.Wrapped)
	if err != nil {
		return err
	}
	b, err := aes.NewCipher(k.([]byte))
	if err != nil {
		return err
	}
	return fn(b)
}

func (g *goKeeper) KeptSign(_ context.Context, r backend.KeptSignRequest) ([]byte, error) {
	k, err := g.kept(r.Wrapped)
	if err != nil {
		return nil, err
	}
	switch r.Scheme {
	case backend.SignPKCS1v15:
		return rsa.SignPKCS1v15(rand.Reader, k.(*rsa.PrivateKey), r.Hash, r.Digest)
	case backend.SignPSS:
		return rsa.SignPSS(rand.Reader, k.(*rsa.PrivateKey), r.Hash, r.Digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case backend.SignECDSA:
		return ecdsa.SignASN1(rand.Reader, k.(*ecdsa.PrivateKey), r.Digest)
	}
	return nil, errors.New("scheme")
}

func (g *goKeeper) KeptDecrypt(_ context.Context, r backend.KeptDecryptRequest) ([]byte, error) {
	k, err := g.kept(r.Wrapped)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, backend.ErrIntegrity
	}
	var out []byte
	if r.Scheme == backend.DecryptOAEP {
		out, err = priv.Decrypt(rand.Reader, r.Ciphertext, &rsa.OAEPOptions{Hash: r.Hash, MGFHash: r.MGFHash, Label: r.Label})
	} else {
		out, err = rsa.DecryptPKCS1v15(rand.Reader, priv, r.Ciphertext) //lint:ignore SA1019 the scheme under test
	}
	if err != nil {
		return nil, backend.ErrDecrypt
	}
	return out, nil
}

func (g *goKeeper) KeptMAC(_ context.Context, r backend.KeptMACRequest) ([]byte, error) {
	k, err := g.kept(r.Wrapped)
	if err != nil {
		return nil, err
	}
	h := hmac.New(r.Hash.New, k.([]byte))
	h.Write(r.Data)
	return h.Sum(nil), nil
}

func keeperExecutor(t *testing.T, be backend.Backend) *server.Executor {
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	log := zerolog.New(zerolog.NewTestWriter(t))
	svc := ops.New(ops.Deps{Store: st, Backend: be, BackendType: "soft", Log: log})
	return &server.Executor{Ops: svc, Log: log}
}

// TestKeptKeys: a non-Extractable AES key or key pair is made by the
// keeper and what the operations seal is its wrapped form; Get refuses
// it, Encrypt, Decrypt, MAC, wrapping and Sign work through the keeper.
func TestKeptKeys(t *testing.T) {
	g := newGoKeeper()
	x := keeperExecutor(t, g)
	v := message.V2_0
	it := kmiptest.Exec1(t, x, v, kmip20.OperationCreate, kmiptest.CreateAES(v, 256,
		kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false},
		kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: timeAgo()}))
	ok(t, it)
	var id kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &id)
	g.mu.Lock()
	require.Len(t, g.keys, 1)
	for w, k := range g.keys {
		assert.Contains(t, string(g.sealed[len(g.sealed)-1]), w, "the sealed material holds the wrapped form")
		assert.NotContains(t, string(g.sealed[len(g.sealed)-1]), string(k.([]byte)), "and not the key")
	}
	g.mu.Unlock()

	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id.UniqueIdentifier, 0))
	assert.Equal(t, kmip20.ResultReasonNotExtractable, it.ResultReason)

	// Re-key makes the replacement in the keeper too.
	it = kmiptest.Exec1(t, x, v, kmip20.OperationReKey, kmiptest.UID{UniqueIdentifier: id.UniqueIdentifier})
	ok(t, it)
	var replacement kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &replacement)
	g.mu.Lock()
	assert.Len(t, g.keys, 2, "the replacement is kept")
	g.mu.Unlock()
	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(replacement.UniqueIdentifier, 0))
	assert.Equal(t, kmip20.ResultReasonNotExtractable, it.ResultReason)

	// A registered non-Extractable AES key is kept too, and is the key
	// the client gave: CBC with it is Go's CBC with the material.
	material := []byte("0123456789abcdef")
	regID := registerKey(t, x, v, kmip14.ObjectTypeSymmetricKey, kmip14.KeyFormatTypeRaw, kmip14.CryptographicAlgorithmAES, 128, material,
		kmip14.CryptographicUsageMaskEncrypt, kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false})
	g.mu.Lock()
	assert.Len(t, g.keys, 3, "the registered key is kept")
	g.mu.Unlock()
	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(regID, 0))
	assert.Equal(t, kmip20.ResultReasonNotExtractable, it.ResultReason)
	ecb := &params{BlockCipherMode: kmip14.BlockCipherModeECB}
	it, regEnc := call(t, x, v, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: regID, CryptographicParameters: ecb, Data: material})
	ok(t, it)
	goBlock, err := aes.NewCipher(material)
	require.NoError(t, err)
	want := make([]byte, 16)
	goBlock.Encrypt(want, material)
	assert.Equal(t, want, regEnc.Data)

	// A non-Extractable HMAC key is kept too (as a generic secret in the
	// HSM): MAC and MAC Verify go through the keeper, whose HMAC is Go's
	// with the key it holds; Get refuses it.
	it = kmiptest.Exec1(t, x, v, kmip20.OperationCreate, struct {
		ObjectType kmip14.ObjectType
		Attributes ttlv.TTLV
	}{kmip14.ObjectTypeSymmetricKey, kmiptest.Attributes2(
		kmiptest.Attr1{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmHMAC_SHA256},
		kmiptest.Attr1{AttributeName: "Cryptographic Length", AttributeValue: int32(256)},
		kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskMACGenerate | kmip14.CryptographicUsageMaskMACVerify},
		kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: timeAgo()},
		kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false})})
	ok(t, it)
	var hmacKey kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &hmacKey)
	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(hmacKey.UniqueIdentifier, 0))
	assert.Equal(t, kmip20.ResultReasonNotExtractable, it.ResultReason)
	g.mu.Lock()
	require.Len(t, g.keys, 4, "the HMAC key is kept")
	var hmacMaterial []byte
	for _, k := range g.keys {
		if b, isBytes := k.([]byte); isBytes && len(b) == 32 && string(b) != string(material) {
			hmacMaterial = b
		}
	}
	g.mu.Unlock()
	it, maced := call(t, x, v, kmip20.OperationMAC, cryptoReq{UniqueIdentifier: hmacKey.UniqueIdentifier, Data: []byte("mac me")})
	ok(t, it)
	goMAC := hmac.New(sha256.New, hmacMaterial)
	goMAC.Write([]byte("mac me"))
	assert.Equal(t, goMAC.Sum(nil), maced.MACData, "the keeper's HMAC-SHA256")
	it, checked := call(t, x, v, kmip20.OperationMACVerify, cryptoReq{UniqueIdentifier: hmacKey.UniqueIdentifier, Data: []byte("mac me"), MACData: maced.MACData})
	ok(t, it)
	assert.Equal(t, kmip14.ValidityIndicatorValid, checked.ValidityIndicator)
	it, checked = call(t, x, v, kmip20.OperationMACVerify, cryptoReq{UniqueIdentifier: hmacKey.UniqueIdentifier, Data: []byte("mac mE"), MACData: maced.MACData})
	ok(t, it)
	assert.Equal(t, kmip14.ValidityIndicatorInvalid, checked.ValidityIndicator)

	cbc := &params{BlockCipherMode: kmip14.BlockCipherModeCBC, PaddingMethod: kmip14.PaddingMethodPKCS5}
	it, enc := call(t, x, v, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: id.UniqueIdentifier, CryptographicParameters: cbc, Data: []byte("kept")})
	ok(t, it)
	it, dec := call(t, x, v, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: id.UniqueIdentifier, CryptographicParameters: cbc, Data: enc.Data, IVCounterNonce: enc.IVCounterNonce})
	ok(t, it)
	assert.Equal(t, "kept", string(dec.Data))

	// A non-Extractable RSA pair: the private key is kept and signs.
	it = kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, struct {
		CommonAttributes     ttlv.TTLV
		PrivateKeyAttributes ttlv.TTLV
		PublicKeyAttributes  ttlv.TTLV
	}{
		retag(kmip20.TagCommonAttributes,
			kmiptest.Attr1{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmRSA},
			kmiptest.Attr1{AttributeName: "Cryptographic Length", AttributeValue: int32(2048)},
			kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: timeAgo()}),
		retag(kmip20.TagPrivateKeyAttributes, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskSign},
			kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false}),
		retag(kmip20.TagPublicKeyAttributes, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskVerify}),
	})
	ok(t, it)
	var pair struct{ PrivateKeyUniqueIdentifier, PublicKeyUniqueIdentifier string }
	kmiptest.Decode(t, it.ResponsePayload, &pair)
	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(pair.PrivateKeyUniqueIdentifier, 0))
	assert.Equal(t, kmip20.ResultReasonNotExtractable, it.ResultReason)
	it, signed := call(t, x, v, kmip20.OperationSign, cryptoReq{UniqueIdentifier: pair.PrivateKeyUniqueIdentifier,
		CryptographicParameters: &params{PaddingMethod: kmip14.PaddingMethodPSS, HashingAlgorithm: kmip14.HashingAlgorithmSHA_256}, Data: []byte("m")})
	ok(t, it)
	it, verified := call(t, x, v, kmip20.OperationSignatureVerify, cryptoReq{UniqueIdentifier: pair.PublicKeyUniqueIdentifier,
		CryptographicParameters: &params{PaddingMethod: kmip14.PaddingMethodPSS, HashingAlgorithm: kmip14.HashingAlgorithmSHA_256}, Data: []byte("m"), SignatureData: signed.SignatureData})
	ok(t, it)
	assert.Equal(t, kmip14.ValidityIndicatorValid, verified.ValidityIndicator)
	it, _ = call(t, x, v, kmip20.OperationSignatureVerify, cryptoReq{UniqueIdentifier: pair.PrivateKeyUniqueIdentifier, Data: []byte("m"), SignatureData: signed.SignatureData})
	assert.NotEqual(t, kmip14.ResultStatusSuccess, it.ResultStatus, "a kept private key does not verify (its usage mask is Sign only, and it is kept)")
	it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(pair.PublicKeyUniqueIdentifier, 0))
	ok(t, it)
	var got kmiptest.GetResponse
	kmiptest.Decode(t, it.ResponsePayload, &got)
	pubDER, _ := got.KeyBlock().Material()
	pub, err := x509.ParsePKCS1PublicKey(pubDER.ValueByteString())
	require.NoError(t, err)
	d := sha256.Sum256([]byte("m"))
	assert.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, d[:], signed.SignatureData, nil))

	// A kept RSA private key that may decrypt does, in the keeper: what
	// the public key encrypted (OAEP, PKCS#1 v1.5) comes back; a changed
	// ciphertext is a Cryptographic Failure; the kept key encrypts nothing.
	it = kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, struct {
		CommonAttributes     ttlv.TTLV
		PrivateKeyAttributes ttlv.TTLV
		PublicKeyAttributes  ttlv.TTLV
	}{
		retag(kmip20.TagCommonAttributes,
			kmiptest.Attr1{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmRSA},
			kmiptest.Attr1{AttributeName: "Cryptographic Length", AttributeValue: int32(2048)},
			kmiptest.Attr1{AttributeName: "Activation Date", AttributeValue: timeAgo()}),
		retag(kmip20.TagPrivateKeyAttributes, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskDecrypt | kmip14.CryptographicUsageMaskUnwrapKey},
			kmiptest.Attr1{AttributeName: "Extractable", AttributeValue: false}),
		retag(kmip20.TagPublicKeyAttributes, kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskWrapKey}),
	})
	ok(t, it)
	var encPair struct{ PrivateKeyUniqueIdentifier, PublicKeyUniqueIdentifier string }
	kmiptest.Decode(t, it.ResponsePayload, &encPair)
	for _, p := range []*params{nil, {PaddingMethod: kmip14.PaddingMethodPKCS1V1_5}} {
		it, sealed := call(t, x, v, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: encPair.PublicKeyUniqueIdentifier, CryptographicParameters: p, Data: []byte("for the kept key")})
		ok(t, it)
		it, opened := call(t, x, v, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: encPair.PrivateKeyUniqueIdentifier, CryptographicParameters: p, Data: sealed.Data})
		ok(t, it)
		assert.Equal(t, "for the kept key", string(opened.Data))
		sealed.Data[5] ^= 1
		it, _ = call(t, x, v, kmip20.OperationDecrypt, cryptoReq{UniqueIdentifier: encPair.PrivateKeyUniqueIdentifier, CryptographicParameters: p, Data: sealed.Data})
		assert.Equal(t, kmip20.ResultReasonCryptographicFailure, it.ResultReason)
	}
	it, _ = call(t, x, v, kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: encPair.PrivateKeyUniqueIdentifier, Data: []byte("x")})
	assert.NotEqual(t, kmip14.ResultStatusSuccess, it.ResultStatus, "a kept private key does not encrypt")

	// A key wrapped (RSA-OAEP) under the pair's public key registers
	// back, unwrapped by the kept private key in the keeper.
	it = kmiptest.Exec1(t, x, v, kmip20.OperationCreate, kmiptest.CreateAES(v, 128))
	ok(t, it)
	var dataKey kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &dataKey)
	it, wrapped := getWrapped(t, x, v, dataKey.UniqueIdentifier, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt, EncryptionKeyInformation: keyInfo{UniqueIdentifier: encPair.PublicKeyUniqueIdentifier}})
	ok(t, it)
	kb := wrapped.SymmetricKey.KeyBlock
	kb.KeyWrappingData.EncryptionKeyInformation.UniqueIdentifier = encPair.PrivateKeyUniqueIdentifier
	it = kmiptest.Exec1(t, x, v, kmip20.OperationRegister, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock any }{kb},
		kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt}))
	ok(t, it)
	var back kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &back)
	assert.Equal(t, keyMaterial(t, x, v, dataKey.UniqueIdentifier), keyMaterial(t, x, v, back.UniqueIdentifier))
}

func timeAgo() time.Time { return time.Now().Add(-time.Hour) }

// retag is a 2.x Attributes structure of attrs tagged tag (Common
// Attributes, Private Key Attributes...).
func retag(tag ttlv.Tag, attrs ...kmiptest.Attr1) ttlv.TTLV {
	return attr.Retag(kmiptest.Attributes2(attrs...), tag)
}

// TestNonExtractablePolicy: a 1.x client (1.3 has no Extractable
// attribute) whose policy says so gets its keys kept (all of them, or its
// wrapping keys); a client without the policy does not.
func TestNonExtractablePolicy(t *testing.T) {
	g := newGoKeeper()
	x := keeperExecutor(t, g)
	v := message.V1_3
	create := func(policy ops.Policy, mask kmip14.CryptographicUsageMask) kmiptest.ResponseItem {
		payload := struct {
			ObjectType        kmip14.ObjectType
			TemplateAttribute struct{ Attribute []kmiptest.Attr1 }
		}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []kmiptest.Attr1 }{[]kmiptest.Attr1{
			{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmAES},
			{AttributeName: "Cryptographic Length", AttributeValue: int32(256)},
			{AttributeName: "Cryptographic Usage Mask", AttributeValue: mask},
		}}}
		msg := kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: payload})
		out := x.ExecuteFor(context.Background(), ops.Client{Tenant: kmiptest.Tenant, Name: "test", Policy: policy}, msg)
		var r kmiptest.Response
		require.NoError(t, ttlv.Unmarshal(out, &r))
		require.Len(t, r.BatchItem, 1)
		return r.BatchItem[0]
	}
	encMask := kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt
	wrapMask := kmip14.CryptographicUsageMaskWrapKey | kmip14.CryptographicUsageMaskUnwrapKey
	notExtractable := message.ReasonFor(v, kmip20.ResultReasonNotExtractable)
	for _, tt := range []struct {
		policy ops.Policy
		mask   kmip14.CryptographicUsageMask
		kept   int // keys kept so far
		get    kmip20.ResultReason
	}{
		{ops.Policy{}, encMask, 0, 0},
		{ops.Policy{}, wrapMask, 0, 0},
		{ops.Policy{NonExtractableKeys: true}, encMask, 1, notExtractable},
		{ops.Policy{WrappingKeysNonExtractable: true}, encMask, 1, 0},
		{ops.Policy{WrappingKeysNonExtractable: true}, wrapMask, 2, notExtractable},
	} {
		it := create(tt.policy, tt.mask)
		ok(t, it)
		var id kmiptest.UID
		kmiptest.Decode(t, it.ResponsePayload, &id)
		g.mu.Lock()
		assert.Len(t, g.keys, tt.kept)
		g.mu.Unlock()
		it = kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id.UniqueIdentifier, 0))
		assert.Equal(t, tt.get, it.ResultReason, it.ResultMessage)
	}
}

// TestWrappedKeyFlowAtKMIP11 plays what the vSphere 9 wrapped-key mode
// needs from a KMS, in KMIP 1.1 as vCenter speaks it, for a client with
// the wrapping-keys policy: a wrapping key created with Wrap Key / Unwrap
// Key is kept (Get refuses it); a data key stays fetchable, and comes back
// wrapped under the wrapping key, by it in the keeper; the wrapped block
// registers back to the same material. Encrypt does not exist in 1.1.
func TestWrappedKeyFlowAtKMIP11(t *testing.T) {
	g := newGoKeeper()
	x := keeperExecutor(t, g)
	v := message.V1_1
	client := ops.Client{Tenant: kmiptest.Tenant, Name: "vcenter", Policy: ops.Policy{ActivateOnCreate: true, WrappingKeysNonExtractable: true}}
	exec := func(op kmip20.Operation, payload any) kmiptest.ResponseItem {
		out := x.ExecuteFor(context.Background(), client, kmiptest.Request(t, v, kmiptest.Item{Operation: op, RequestPayload: payload}))
		var r kmiptest.Response
		require.NoError(t, ttlv.Unmarshal(out, &r))
		return r.BatchItem[0]
	}
	create := func(mask kmip14.CryptographicUsageMask) string {
		it := exec(kmip20.OperationCreate, struct {
			ObjectType        kmip14.ObjectType
			TemplateAttribute struct{ Attribute []kmiptest.Attr1 }
		}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []kmiptest.Attr1 }{[]kmiptest.Attr1{
			{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmAES},
			{AttributeName: "Cryptographic Length", AttributeValue: int32(256)},
			{AttributeName: "Cryptographic Usage Mask", AttributeValue: mask},
		}}})
		ok(t, it)
		var id kmiptest.UID
		kmiptest.Decode(t, it.ResponsePayload, &id)
		return id.UniqueIdentifier
	}
	wrapping := create(kmip14.CryptographicUsageMaskWrapKey | kmip14.CryptographicUsageMaskUnwrapKey | kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt)
	data := create(kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt)
	assert.Len(t, g.keys, 1, "only the wrapping key is kept")
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, exec(kmip20.OperationGet, kmiptest.Get(wrapping, 0)).ResultReason, "Not Extractable, as 1.1 says it")
	it := exec(kmip20.OperationGet, kmiptest.Get(data, 0))
	ok(t, it)
	var plain kmiptest.GetResponse
	kmiptest.Decode(t, it.ResponsePayload, &plain)
	material, _ := plain.KeyBlock().Material()

	it = exec(kmip20.OperationGet, struct {
		UniqueIdentifier         string
		KeyWrappingSpecification wrapSpec
	}{data, wrapSpec{WrappingMethod: kmip14.WrappingMethodEncrypt, EncryptionKeyInformation: keyInfo{UniqueIdentifier: wrapping}, EncodingOption: kmip14.EncodingOptionNoEncoding}})
	ok(t, it)
	var wrapped wrappedGet
	kmiptest.Decode(t, it.ResponsePayload, &wrapped)
	kb := wrapped.SymmetricKey.KeyBlock
	require.Equal(t, ttlv.TypeByteString, kb.KeyValue.Type())
	assert.NotContains(t, string(kb.KeyValue.ValueByteString()), string(material.ValueByteString()))
	it = exec(kmip20.OperationRegister, kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock any }{kb},
		kmiptest.Attr1{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt}))
	ok(t, it)
	var back kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &back)
	assert.Equal(t, material.ValueByteString(), keyMaterial(t, x, v, back.UniqueIdentifier))

	// Encrypt and Decrypt exist from KMIP 1.2 on: at 1.1, wrapping is Get
	// with a Key Wrapping Specification.
	it = exec(kmip20.OperationEncrypt, cryptoReq{UniqueIdentifier: wrapping, CryptographicParameters: &params{BlockCipherMode: kmip14.BlockCipherModeNISTKeyWrap}, Data: material.ValueByteString()})
	assert.Equal(t, kmip20.ResultReasonOperationNotSupported, it.ResultReason)
}
