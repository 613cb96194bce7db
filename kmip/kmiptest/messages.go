package kmiptest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// Tenant is the tenant that Execute runs requests as.
const Tenant = "tenant-a"

// NewExecutor builds an executor over a real bbolt store in t.TempDir()
// and a SoftBackend, logging to t.
func NewExecutor(t testing.TB) *server.Executor {
	st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	log := zerolog.New(zerolog.NewTestWriter(t))
	svc := ops.New(ops.Deps{Store: st, Backend: NewSoftBackend(), BackendType: "soft", Log: log})
	return &server.Executor{Ops: svc, Log: log}
}

// Header is a request header as a client encodes it.
type Header struct {
	ProtocolVersion              message.Version
	MaximumResponseSize          int32  `ttlv:",omitempty"`
	AsynchronousIndicator        bool   `ttlv:",omitempty"`
	BatchErrorContinuationOption uint32 `ttlv:",omitempty,enum"`
	BatchOrderOption             bool   `ttlv:",omitempty"`
	BatchCount                   int32
}

// Item is a request batch item; RequestPayload is any struct with ttlv
// field tags (or a ttlv.TTLV).
type Item struct {
	Operation         kmip20.Operation
	UniqueBatchItemID []byte `ttlv:",omitempty"`
	RequestPayload    any
}

// Message is a request message.
type Message struct {
	TTLVTag       struct{} `ttlv:"RequestMessage"`
	RequestHeader Header
	BatchItem     []Item
}

// Request encodes a request in version v with the given items and a
// correct batch count.
func Request(t testing.TB, v message.Version, items ...Item) []byte {
	return RequestWith(t, Header{ProtocolVersion: v}, items...)
}

// RequestWith is Request with a chosen header (BatchCount is filled in).
func RequestWith(t testing.TB, h Header, items ...Item) []byte {
	h.BatchCount = int32(len(items))
	b, err := ttlv.Marshal(Message{RequestHeader: h, BatchItem: items})
	require.NoError(t, err)
	return b
}

// ResponseItem is a decoded response item with its payload kept raw.
type ResponseItem struct {
	Operation         kmip20.Operation
	UniqueBatchItemID []byte
	ResultStatus      kmip14.ResultStatus
	ResultReason      kmip20.ResultReason
	ResultMessage     string
	ResponsePayload   ttlv.TTLV
}

// Response is a decoded response message.
type Response struct {
	ResponseHeader struct {
		ProtocolVersion message.Version
		BatchCount      int32
	}
	BatchItem []ResponseItem
}

// Execute runs msg through x as Tenant and decodes the answer, checking
// that its batch count matches its items. It returns the raw answer too.
func Execute(t testing.TB, x *server.Executor, msg []byte) (Response, ttlv.TTLV) {
	out := x.Execute(context.Background(), Tenant, msg)
	require.NotEmpty(t, out)
	var r Response
	require.NoError(t, ttlv.Unmarshal(out, &r), "response must decode")
	require.Equal(t, int(r.ResponseHeader.BatchCount), len(r.BatchItem))
	return r, out
}

// Decode unmarshals a response payload into v.
func Decode(t testing.TB, payload ttlv.TTLV, v any) {
	require.NoError(t, ttlv.Unmarshal(payload, v))
}

// UID is a payload holding only a Unique Identifier.
type UID struct{ UniqueIdentifier string }

// Attr1 is a KMIP 1.x Attribute as a client encodes it.
type Attr1 struct {
	AttributeName  string
	AttributeIndex int32 `ttlv:",omitempty"`
	AttributeValue any
}

// Name is the Name attribute's value.
type Name struct {
	NameValue string
	NameType  kmip14.NameType
}

// CreateAES is a Create payload for an AES key of the given length, in the
// form of version v (TemplateAttribute in 1.x, Attributes in 2.x), with the
// extra 1.x-style attributes added.
func CreateAES(v message.Version, length int32, extra ...Attr1) any {
	attrs := append([]Attr1{
		{AttributeName: "Cryptographic Algorithm", AttributeValue: kmip14.CryptographicAlgorithmAES},
		{AttributeName: "Cryptographic Length", AttributeValue: length},
		{AttributeName: "Cryptographic Usage Mask", AttributeValue: kmip14.CryptographicUsageMaskEncrypt | kmip14.CryptographicUsageMaskDecrypt},
	}, extra...)
	if v.AtLeast(message.V2_0) {
		return struct {
			ObjectType kmip14.ObjectType
			Attributes ttlv.TTLV
		}{kmip14.ObjectTypeSymmetricKey, Attributes2(attrs...)}
	}
	return struct {
		ObjectType        kmip14.ObjectType
		TemplateAttribute struct{ Attribute []Attr1 }
	}{kmip14.ObjectTypeSymmetricKey, struct{ Attribute []Attr1 }{attrs}}
}

// Attributes2 encodes 1.x-style attributes as a 2.x Attributes structure:
// standard ones tagged by name, "x-Name" ones as vendor attributes.
func Attributes2(attrs ...Attr1) ttlv.TTLV {
	var list []ttlv.TTLV
	for _, a := range attrs {
		v, err := ttlv.Marshal(struct {
			TTLVTag        struct{} `ttlv:"AttributeValue"`
			AttributeValue any
		}{AttributeValue: a.AttributeValue})
		if err != nil {
			panic(err)
		}
		val := ttlv.TTLV(v).ValueStructure() // the value item, tagged AttributeValue
		list = append(list, encode2(a.AttributeName, val))
	}
	return attr.Structure(kmip20.TagAttributes, list...)
}
