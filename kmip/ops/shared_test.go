package ops_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// transportRoot is a root of trust with two TKEKs and an IKEY
// (backend.TransportImporter); down makes TransportKeys fail, as an
// unreachable HSM does, and calls counts them.
type transportRoot struct {
	*kmiptest.SoftBackend
	keys  []*rsa.PrivateKey
	mu    sync.Mutex
	down  bool
	calls int
}

func newTransportRoot(t *testing.T) *transportRoot {
	r := &transportRoot{SoftBackend: kmiptest.NewSoftBackend()}
	for range 2 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		r.keys = append(r.keys, k)
	}
	return r
}

func (r *transportRoot) TransportKeys(context.Context) ([]backend.TransportKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.down {
		return nil, fmt.Errorf("%w: CKR_DEVICE_ERROR", backend.ErrUnavailable)
	}
	var out []backend.TransportKey
	for i, k := range r.keys {
		out = append(out, backend.TransportKey{Label: fmt.Sprintf("TKEK-%02d", i+1), Group: "TKEK", Public: &k.PublicKey, OAEPHash: crypto.SHA1})
	}
	return append(out, backend.TransportKey{Label: "IKEY"}), nil
}

func (r *transportRoot) ImportKept(context.Context, backend.TransportImportRequest) ([]byte, int, error) {
	return nil, 0, backend.ErrTransportRefused
}

func (r *transportRoot) DecryptTransport(_ context.Context, req backend.TransportImportRequest) ([]byte, error) {
	for i, k := range r.keys {
		if req.Label == fmt.Sprintf("TKEK-%02d", i+1) {
			return rsa.DecryptOAEP(crypto.SHA1.New(), nil, k, req.Encrypted, nil)
		}
	}
	return nil, backend.ErrTransportInput
}

// TestTransportKeysShared: the TKEK public keys are Public Key objects of
// a shared, read-only namespace. Every tenant Locates them by the label
// prefix or the label (with the other filters applying), Gets the public
// key (X.509 by default, PKCS#1 on ask) and reads its attributes; a
// Locate that names no object (list everything, by type) does not meet
// them; every change is Permission Denied; a key wrapped under the one
// located and registered naming it comes back as it was.
func TestTransportKeysShared(t *testing.T) {
	root := newTransportRoot(t)
	x := keeperExecutor(t, root)
	tkek1, tkek2 := "transport:TKEK-01", "transport:TKEK-02"
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			for _, tenant := range []string{kmiptest.Tenant, kmiptest.OtherTenant} {
				assert.Equal(t, []string{tkek1, tkek2}, locateAs(t, x, tenant, v, locateOpts{}, locName("TKEK")).UniqueIdentifier, "tenant %s, by the prefix", tenant)
			}
			assert.Equal(t, []string{tkek2}, locate(t, x, v, locName("TKEK-02")))
			assert.Equal(t, []string{tkek1, tkek2}, locate(t, x, v, locName("TKEK"), a1("Object Type", kmip14.ObjectTypePublicKey), a1("Cryptographic Algorithm", kmip14.CryptographicAlgorithmRSA)))
			assert.Equal(t, []string{tkek1}, locate(t, x, v, a1("Unique Identifier", tkek1)))
			assert.Empty(t, locate(t, x, v, locName("TKEK"), a1("Object Type", kmip14.ObjectTypePrivateKey)))
			assert.Empty(t, locate(t, x, v, locName("TKEK"), a1("Cryptographic Usage Mask", kmip14.CryptographicUsageMaskSign)))
			assert.Equal(t, []string{tkek1, tkek2}, locate(t, x, v, locName("TKEK"), a1("Cryptographic Usage Mask", kmip14.CryptographicUsageMaskWrapKey)))
			assert.Empty(t, locate(t, x, v, locName("IKEY")), "the IKEY is secret: not published")
			assert.NotContains(t, locate(t, x, v, a1("Object Type", kmip14.ObjectTypePublicKey)), tkek1, "a Locate that names no object does not meet them")
			page := locateAs(t, x, kmiptest.Tenant, v, locateOpts{MaximumItems: 1, OffsetItems: 1}, locName("TKEK"))
			assert.Equal(t, []string{tkek2}, page.UniqueIdentifier)
			require.NotNil(t, page.LocatedItems)
			assert.EqualValues(t, 2, *page.LocatedItems)
		})
	}

	// A tenant's own object of that name comes after them, in the same
	// answer and its pages.
	own := kmiptest.NewAESKey(t, x, message.V1_4, locName("TKEK"))
	assert.Equal(t, []string{tkek1, tkek2, own}, locate(t, x, message.V1_4, locName("TKEK")))
	page := locateAs(t, x, kmiptest.Tenant, message.V1_4, locateOpts{MaximumItems: 2, OffsetItems: 1}, locName("TKEK"))
	assert.Equal(t, []string{tkek2, own}, page.UniqueIdentifier)
	assert.EqualValues(t, 3, *page.LocatedItems)

	// Get: X.509 by default, PKCS#1 on ask, the HSM's public key.
	for _, v := range []message.Version{message.V1_0, message.V1_4, message.V2_1} {
		spki := getKeyDER(t, x, v, tkek1, kmip14.KeyFormatTypeX_509)
		pub, err := x509.ParsePKIXPublicKey(spki)
		require.NoError(t, err)
		assert.True(t, root.keys[0].PublicKey.Equal(pub), "KMIP %s", v)
		pkcs1, err := x509.ParsePKCS1PublicKey(getKeyDER(t, x, v, tkek1, kmip14.KeyFormatTypePKCS_1))
		require.NoError(t, err)
		assert.True(t, root.keys[0].PublicKey.Equal(pkcs1))
	}
	it := kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationGet, kmiptest.Get(tkek2, 0))
	ok(t, it)
	var got kmiptest.GetResponse
	kmiptest.Decode(t, it.ResponsePayload, &got)
	assert.Equal(t, kmip14.KeyFormatTypeX_509, got.KeyBlock().KeyFormatType)

	// Attributes.
	it = kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationGetAttributes, kmiptest.UID{UniqueIdentifier: tkek1})
	ok(t, it)
	var attrs struct {
		UniqueIdentifier string
		Attribute        []struct {
			AttributeName  string
			AttributeIndex int32 `ttlv:",omitempty"`
			AttributeValue ttlv.TTLV
		}
	}
	kmiptest.Decode(t, it.ResponsePayload, &attrs)
	seen := map[string]int{}
	for _, a := range attrs.Attribute {
		seen[a.AttributeName]++
		switch a.AttributeName {
		case "Object Type":
			assert.EqualValues(t, kmip14.ObjectTypePublicKey, a.AttributeValue.ValueEnumeration())
		case "State":
			assert.EqualValues(t, kmip14.StateActive, a.AttributeValue.ValueEnumeration())
		case "Cryptographic Length":
			assert.EqualValues(t, 2048, a.AttributeValue.ValueInteger())
		case "Cryptographic Usage Mask":
			assert.EqualValues(t, kmip14.CryptographicUsageMaskWrapKey|kmip14.CryptographicUsageMaskEncrypt, a.AttributeValue.ValueInteger())
		}
	}
	assert.Equal(t, 2, seen["Name"], "the label and the prefix")
	assert.Equal(t, 1, seen["Cryptographic Parameters"], "OAEP and its hash")
	it = kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationGetAttributeList, kmiptest.UID{UniqueIdentifier: tkek1})
	ok(t, it)

	// Every change is Permission Denied, in every tenant.
	v := message.V1_4
	revoke := struct {
		UniqueIdentifier string
		RevocationReason struct{ RevocationReasonCode kmip14.RevocationReasonCode }
	}{UniqueIdentifier: tkek1}
	revoke.RevocationReason.RevocationReasonCode = kmip14.RevocationReasonCodeCessationOfOperation
	for _, tt := range []struct {
		op      kmip20.Operation
		v       message.Version
		payload any
	}{
		{kmip20.OperationDestroy, v, kmiptest.UID{UniqueIdentifier: tkek1}},
		{kmip20.OperationRevoke, v, revoke},
		{kmip20.OperationActivate, v, kmiptest.UID{UniqueIdentifier: tkek1}},
		{kmip20.OperationArchive, v, kmiptest.UID{UniqueIdentifier: tkek1}},
		{kmip20.OperationRecover, v, kmiptest.UID{UniqueIdentifier: tkek1}},
		{kmip20.OperationReKey, v, kmiptest.UID{UniqueIdentifier: tkek1}},
		{kmip20.OperationReKeyKeyPair, v, struct{ PrivateKeyUniqueIdentifier string }{tkek1}},
		{kmip20.OperationAddAttribute, v, addPayload(v, tkek1, a1("x-mine", "yes"))},
		{kmip20.OperationAddAttribute, v, addPayload(v, tkek1, attrNamed("mine"))},
		{kmip20.OperationModifyAttribute, v, modifyPayload(v, tkek1, a1("Cryptographic Usage Mask", kmip14.CryptographicUsageMaskEncrypt), nil)},
		{kmip20.OperationDeleteAttribute, v, deletePayload(v, tkek1, deleteRequest{name: "Name"})},
		{kmip20.OperationSetAttribute, message.V2_1, struct {
			UniqueIdentifier string
			NewAttribute     ttlv.TTLV
		}{tkek1, kmiptest.Wrapped2(kmip20.TagNewAttribute, a1("Contact Information", "me"))}},
	} {
		t.Run(tt.op.String(), func(t *testing.T) {
			for _, tenant := range []string{kmiptest.Tenant, kmiptest.OtherTenant} {
				r, _ := kmiptest.ExecuteAs(t, x, tenant, kmiptest.Request(t, tt.v, kmiptest.Item{Operation: tt.op, RequestPayload: tt.payload}))
				assert.Equal(t, kmip20.ResultReasonPermissionDenied, r.BatchItem[0].ResultReason, "%s: %s", tt.op, r.BatchItem[0].ResultMessage)
			}
		})
	}
	assert.Equal(t, []string{tkek1}, locate(t, x, v, locName("TKEK-01")), "still there, unchanged")

	// The import flow: wrap under the located key, register naming it.
	aes := make([]byte, 32)
	_, _ = rand.Read(aes)
	pub, err := x509.ParsePKIXPublicKey(getKeyDER(t, x, v, locate(t, x, v, locName("TKEK"))[0], kmip14.KeyFormatTypeX_509))
	require.NoError(t, err)
	wrapped, err := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, pub.(*rsa.PublicKey), aes, nil)
	require.NoError(t, err)
	type eki struct{ UniqueIdentifier string }
	type wrappingData struct {
		WrappingMethod           kmip14.WrappingMethod
		EncryptionKeyInformation eki
		EncodingOption           kmip14.EncodingOption
	}
	type keyBlock struct {
		KeyFormatType          kmip14.KeyFormatType
		KeyValue               []byte
		CryptographicAlgorithm kmip14.CryptographicAlgorithm
		CryptographicLength    int32
		KeyWrappingData        wrappingData
	}
	reg := kmiptest.Register(v, kmip14.ObjectTypeSymmetricKey, struct{ KeyBlock keyBlock }{keyBlock{
		kmip14.KeyFormatTypeRaw, wrapped, kmip14.CryptographicAlgorithmAES, 256,
		wrappingData{kmip14.WrappingMethodEncrypt, eki{tkek1}, kmip14.EncodingOptionNoEncoding},
	}}, a1("Cryptographic Usage Mask", kmip14.CryptographicUsageMaskEncrypt))
	it = kmiptest.Exec1(t, x, v, kmip20.OperationRegister, reg)
	ok(t, it)
	var id kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &id)
	assert.Equal(t, aes, keyMaterial(t, x, v, id.UniqueIdentifier), "the key imported through the located TKEK")

	// The HSM gone: what was read keeps answering.
	root.mu.Lock()
	root.down = true
	root.mu.Unlock()
	assert.Equal(t, []string{tkek1, tkek2, own}, locate(t, x, v, locName("TKEK")))
}

// TestTransportKeysHSMDownAtStart: with the root of trust unreachable and
// nothing read before, Locate still answers (the tenant's objects) and a
// Get of a transport key fails with the HSM's error, not a wrong key.
func TestTransportKeysHSMDownAtStart(t *testing.T) {
	root := newTransportRoot(t)
	root.down = true
	x := keeperExecutor(t, root)
	own := kmiptest.NewAESKey(t, x, message.V1_4, locName("TKEK"))
	assert.Equal(t, []string{own}, locate(t, x, message.V1_4, locName("TKEK")))
	it := kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationGet, kmiptest.Get("transport:TKEK-01", 0))
	assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
	assert.NotEqual(t, kmip20.ResultReasonItemNotFound, it.ResultReason)
	root.mu.Lock()
	root.down = false
	root.mu.Unlock()
	assert.Equal(t, []string{"transport:TKEK-01", "transport:TKEK-02", own}, locate(t, x, message.V1_4, locName("TKEK")), "back once the HSM answers")
	it = kmiptest.Exec1(t, x, message.V1_4, kmip20.OperationGet, kmiptest.Get("transport:TKEK-03", 0))
	assert.Equal(t, kmip20.ResultReasonItemNotFound, it.ResultReason)
}
