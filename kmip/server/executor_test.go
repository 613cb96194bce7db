package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// goBackend is a software root of trust for protocol tests: tenant KEKs
// are random AES keys "wrapped" by a process key. The real backends are
// tested in their own packages and end to end in integration/.
type goBackend struct{ root cipher.AEAD }

func newGoBackend(t *testing.T) *goBackend {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &goBackend{root: gcm(t, k)}
}

func gcm(t testing.TB, key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	require.NoError(t, err)
	a, err := cipher.NewGCM(b)
	require.NoError(t, err)
	return a
}

func seal(a cipher.AEAD, pt, ad []byte) []byte {
	nonce := make([]byte, a.NonceSize())
	_, _ = rand.Read(nonce)
	return a.Seal(nonce, nonce, pt, ad)
}

func open(a cipher.AEAD, ct, ad []byte) ([]byte, error) {
	if len(ct) < a.NonceSize() {
		return nil, backend.ErrIntegrity
	}
	pt, err := a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], ad)
	if err != nil {
		return nil, backend.ErrIntegrity
	}
	return pt, nil
}

func (g *goBackend) NewTenantKey(_ context.Context, tenant string) (backend.TenantKey, error) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return backend.TenantKey{TenantID: tenant, Blob: seal(g.root, k, []byte(tenant))}, nil
}

func (g *goBackend) kek(tk backend.TenantKey) (cipher.AEAD, error) {
	k, err := open(g.root, tk.Blob, []byte(tk.TenantID))
	if err != nil {
		return nil, err
	}
	b, _ := aes.NewCipher(k)
	return cipher.NewGCM(b)
}

func (g *goBackend) Seal(_ context.Context, r backend.SealRequest) ([]byte, error) {
	a, err := g.kek(r.Key)
	if err != nil {
		return nil, err
	}
	return seal(a, r.Plaintext, r.AdditionalData), nil
}

func (g *goBackend) Open(_ context.Context, r backend.OpenRequest) ([]byte, error) {
	a, err := g.kek(r.Key)
	if err != nil {
		return nil, err
	}
	return open(a, r.Ciphertext, r.AdditionalData)
}

func (g *goBackend) Close() error { return nil }

var _ backend.Backend = (*goBackend)(nil)

func newExecutor(t *testing.T) *Executor {
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	svc := ops.New(ops.Deps{Store: st, Backend: newGoBackend(t), BackendType: "test", Log: zerolog.Nop()})
	return &Executor{Ops: svc, Log: zerolog.New(zerolog.NewTestWriter(t))}
}

// Request-side wire types, as a client encodes them.
type reqHeader struct {
	ProtocolVersion              message.Version
	MaximumResponseSize          int32  `ttlv:",omitempty"`
	BatchErrorContinuationOption uint32 `ttlv:",omitempty,enum"`
	BatchCount                   int32
}

type reqItem struct {
	Operation         kmip20.Operation
	UniqueBatchItemID []byte `ttlv:",omitempty"`
	RequestPayload    any
}

type reqMessage struct {
	TTLVTag       struct{} `ttlv:"RequestMessage"`
	RequestHeader reqHeader
	BatchItem     []reqItem
}

func request(t *testing.T, v message.Version, items ...reqItem) []byte {
	b, err := ttlv.Marshal(reqMessage{RequestHeader: reqHeader{ProtocolVersion: v, BatchCount: int32(len(items))}, BatchItem: items})
	require.NoError(t, err)
	return b
}

// respItem is a decoded response item with its payload kept raw.
type respItem struct {
	Operation         kmip20.Operation
	UniqueBatchItemID []byte
	ResultStatus      kmip14.ResultStatus
	ResultReason      kmip20.ResultReason
	ResultMessage     string
	ResponsePayload   ttlv.TTLV
}

type respMessage struct {
	ResponseHeader struct {
		ProtocolVersion message.Version
		BatchCount      int32
	}
	BatchItem []respItem
}

func execute(t *testing.T, x *Executor, msg []byte) (respMessage, ttlv.TTLV) {
	out := x.Execute(context.Background(), "tenant-a", msg)
	require.NotEmpty(t, out)
	var r respMessage
	require.NoError(t, ttlv.Unmarshal(out, &r), "response must decode")
	require.Equal(t, int(r.ResponseHeader.BatchCount), len(r.BatchItem))
	return r, out
}

type uid struct{ UniqueIdentifier string }

func createPayload(v message.Version, name string) any {
	if v.AtLeast(message.V2_0) {
		type attrs struct {
			CryptographicAlgorithm kmip14.CryptographicAlgorithm
			CryptographicLength    int32
			CryptographicUsageMask kmip14.CryptographicUsageMask
			Name                   struct {
				NameValue string
				NameType  kmip14.NameType
			}
		}
		a := attrs{CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: 256,
			CryptographicUsageMask: kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt}
		a.Name.NameValue, a.Name.NameType = name, kmip14.NameTypeUninterpretedTextString
		return struct {
			ObjectType kmip14.ObjectType
			Attributes attrs
		}{kmip14.ObjectTypeSymmetricKey, a}
	}
	type attribute struct {
		AttributeName  string
		AttributeValue any
	}
	return struct {
		ObjectType        kmip14.ObjectType
		TemplateAttribute struct{ Attribute []attribute }
	}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []attribute }{[]attribute{
		{"Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES},
		{"Cryptographic Length", int32(128)},
		{"Cryptographic Usage Mask", kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt},
		{"x-Product", "VMware vSphere"},
	}}}
}

func TestCreateGetDestroyInEveryVersion(t *testing.T) {
	x := newExecutor(t)
	for _, v := range message.Supported {
		t.Run(v.String(), func(t *testing.T) {
			r, _ := execute(t, x, request(t, v, reqItem{Operation: kmip20.OperationCreate, UniqueBatchItemID: []byte("item-001"), RequestPayload: createPayload(v, "key-"+v.String())}))
			require.Equal(t, v, r.ResponseHeader.ProtocolVersion, "answer in the request's version")
			it := r.BatchItem[0]
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			assert.Equal(t, []byte("item-001"), it.UniqueBatchItemID, "Unique Batch Item ID echoed")
			assert.Equal(t, kmip20.OperationCreate, it.Operation)
			var created uid
			require.NoError(t, ttlv.Unmarshal(it.ResponsePayload, &created))
			require.NotEmpty(t, created.UniqueIdentifier)

			r, _ = execute(t, x, request(t, v, reqItem{Operation: kmip20.OperationGet, RequestPayload: uid{created.UniqueIdentifier}}))
			it = r.BatchItem[0]
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
			var got struct {
				ObjectType       kmip14.ObjectType
				UniqueIdentifier string
				SymmetricKey     struct {
					KeyBlock struct {
						KeyFormatType          kmip14.KeyFormatType
						KeyValue               struct{ KeyMaterial []byte }
						CryptographicAlgorithm kmip14.CryptographicAlgorithm
						CryptographicLength    int32
					}
				}
			}
			require.NoError(t, ttlv.Unmarshal(it.ResponsePayload, &got))
			kb := got.SymmetricKey.KeyBlock
			assert.Equal(t, kmip14.KeyFormatTypeRaw, kb.KeyFormatType)
			assert.Equal(t, kmip14.CryptographicAlgorithmAES, kb.CryptographicAlgorithm)
			assert.Len(t, kb.KeyValue.KeyMaterial, int(kb.CryptographicLength)/8)

			r, _ = execute(t, x, request(t, v, reqItem{Operation: kmip20.OperationDestroy, RequestPayload: uid{created.UniqueIdentifier}}))
			require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)

			r, _ = execute(t, x, request(t, v, reqItem{Operation: kmip20.OperationGet, RequestPayload: uid{created.UniqueIdentifier}}))
			assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
			want := kmip20.ResultReasonItemNotFound
			if v.AtLeast(message.V2_0) {
				want = kmip20.ResultReasonObjectDestroyed
			}
			assert.Equal(t, want, r.BatchItem[0].ResultReason)
		})
	}
}

func TestIDPlaceholderCarriesTheCreatedKeyToTheNextItem(t *testing.T) {
	x := newExecutor(t)
	r, _ := execute(t, x, request(t, message.V1_4,
		reqItem{Operation: kmip20.OperationCreate, RequestPayload: createPayload(message.V1_4, "")},
		reqItem{Operation: kmip20.OperationGet, RequestPayload: struct{}{}},
		reqItem{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}},
	))
	require.Len(t, r.BatchItem, 3)
	for _, it := range r.BatchItem {
		assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", it.Operation, it.ResultMessage)
	}
}

func TestDestroyOfActiveKeyIsRefused(t *testing.T) {
	x := newExecutor(t)
	type attribute struct {
		AttributeName  string
		AttributeValue any
	}
	payload := struct {
		ObjectType        kmip14.ObjectType
		TemplateAttribute struct{ Attribute []attribute }
	}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []attribute }{[]attribute{
		{"Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES},
		{"Cryptographic Length", int32(256)},
		{"Activation Date", ttlvDate{}},
	}}}
	r, _ := execute(t, x, request(t, message.V1_4,
		reqItem{Operation: kmip20.OperationCreate, RequestPayload: payload},
		reqItem{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}},
	))
	require.Len(t, r.BatchItem, 2)
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[1].ResultStatus)
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, r.BatchItem[1].ResultReason, "1.4 has no Wrong Key Lifecycle State")
}

// ttlvDate marshals as a DateTime in the past (the epoch).
type ttlvDate struct{}

func (ttlvDate) MarshalTTLV(e *ttlv.Encoder, tag ttlv.Tag) error {
	e.EncodeDateTime(tag, timeEpoch)
	return nil
}

func TestCreateRefusesBadInput(t *testing.T) {
	x := newExecutor(t)
	type attribute struct {
		AttributeName  string
		AttributeValue any
	}
	mk := func(attrs ...attribute) any {
		return struct {
			ObjectType        kmip14.ObjectType
			TemplateAttribute struct{ Attribute []attribute }
		}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []attribute }{attrs}}
	}
	aes := attribute{"Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES}
	tests := []struct {
		name    string
		payload any
		reason  kmip20.ResultReason
	}{
		{"no algorithm", mk(attribute{"Cryptographic Length", int32(256)}), kmip20.ResultReasonMissingData},
		{"no length", mk(aes), kmip20.ResultReasonMissingData},
		{"bad AES length", mk(aes, attribute{"Cryptographic Length", int32(100)}), kmip20.ResultReasonInvalidField},
		{"length of the wrong type", mk(aes, attribute{"Cryptographic Length", "256"}), kmip20.ResultReasonInvalidField},
		{"server-set attribute", mk(aes, attribute{"Cryptographic Length", int32(256)}, attribute{"Unique Identifier", "mine"}), kmip20.ResultReasonPermissionDenied},
		{"not a symmetric key", struct{ ObjectType kmip14.ObjectType }{kmip14.ObjectTypeSecretData}, kmip20.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := execute(t, x, request(t, message.V1_4, reqItem{Operation: kmip20.OperationCreate, RequestPayload: tt.payload}))
			assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
			assert.Equal(t, tt.reason, r.BatchItem[0].ResultReason, r.BatchItem[0].ResultMessage)
		})
	}
}

func TestUnknownOperationIsNotSupported(t *testing.T) {
	x := newExecutor(t)
	r, _ := execute(t, x, request(t, message.V1_2, reqItem{Operation: kmip20.OperationCertify, UniqueBatchItemID: []byte{7}, RequestPayload: struct{}{}}))
	it := r.BatchItem[0]
	assert.Equal(t, kmip20.ResultReasonOperationNotSupported, it.ResultReason)
	assert.Equal(t, kmip20.OperationCertify, it.Operation)
	assert.Equal(t, []byte{7}, it.UniqueBatchItemID)
}

func TestInvalidMessages(t *testing.T) {
	x := newExecutor(t)
	wrongCount, err := ttlv.Marshal(reqMessage{RequestHeader: reqHeader{ProtocolVersion: message.V1_1, BatchCount: 3},
		BatchItem: []reqItem{{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}}}})
	require.NoError(t, err)
	notARequest, err := ttlv.Marshal(struct {
		TTLVTag struct{} `ttlv:"ResponseMessage"`
		X       int32    `ttlv:"BatchCount"`
	}{})
	require.NoError(t, err)
	tests := []struct {
		name    string
		msg     []byte
		version message.Version
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), message.V1_0},
		{"batch count that lies", wrongCount, message.V1_1},
		{"response message sent as a request", notARequest, message.V1_0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := execute(t, x, tt.msg)
			assert.Equal(t, tt.version, r.ResponseHeader.ProtocolVersion)
			assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
			assert.Equal(t, kmip20.ResultReasonInvalidMessage, r.BatchItem[0].ResultReason)
		})
	}
}

func TestBatchStopsAtTheFirstErrorUnlessContinue(t *testing.T) {
	x := newExecutor(t)
	items := []reqItem{
		{Operation: kmip20.OperationGet, RequestPayload: uid{"missing"}},
		{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}},
	}
	r, _ := execute(t, x, request(t, message.V1_4, items...))
	assert.Len(t, r.BatchItem, 1, "Stop is the default")

	b, err := ttlv.Marshal(reqMessage{RequestHeader: reqHeader{ProtocolVersion: message.V1_4, BatchCount: 2,
		BatchErrorContinuationOption: message.BatchErrorContinue}, BatchItem: items})
	require.NoError(t, err)
	r, _ = execute(t, x, b)
	require.Len(t, r.BatchItem, 2)
	assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus)
}

func TestMaximumResponseSize(t *testing.T) {
	x := newExecutor(t)
	b, err := ttlv.Marshal(reqMessage{RequestHeader: reqHeader{ProtocolVersion: message.V1_4, BatchCount: 1, MaximumResponseSize: 100},
		BatchItem: []reqItem{{Operation: kmip20.OperationQuery, RequestPayload: struct {
			QueryFunction []kmip14.QueryFunction
		}{[]kmip14.QueryFunction{kmip14.QueryFunctionQueryOperations}}}}})
	require.NoError(t, err)
	r, _ := execute(t, x, b)
	assert.Equal(t, kmip20.ResultReasonResponseTooLarge, r.BatchItem[0].ResultReason)
}

var timeEpoch = time.Unix(0, 0)
