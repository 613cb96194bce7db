package kmiptest

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// Exec1 runs a request of one batch item in version v and returns the
// item's result.
func Exec1(t testing.TB, x *server.Executor, v message.Version, op kmip20.Operation, payload any) ResponseItem {
	t.Helper()
	r, _ := Execute(t, x, Request(t, v, Item{Operation: op, RequestPayload: payload}))
	require.Len(t, r.BatchItem, 1)
	return r.BatchItem[0]
}

// NewAESKey creates an AES-256 key in version v's form with the extra
// attributes and returns its Unique Identifier, failing the test if Create
// fails.
func NewAESKey(t testing.TB, x *server.Executor, v message.Version, extra ...Attr1) string {
	t.Helper()
	it := Exec1(t, x, v, kmip20.OperationCreate, CreateAES(v, 256, extra...))
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var id UID
	Decode(t, it.ResponsePayload, &id)
	return id.UniqueIdentifier
}

// Wrapped2 is one attribute in its 2.x form (tagged by itself, or a vendor
// Attribute for "vendor-name") inside a structure tagged tag, such as New
// Attribute or Current Attribute. A ttlv.TTLV AttributeValue must be
// tagged Attribute Value; it is sent byte for byte.
func Wrapped2(tag ttlv.Tag, a Attr1) ttlv.TTLV {
	return attr.Structure(tag, Attributes2(a).ValueStructure())
}

// Reference2 is a 2.x Attribute Reference to the named attribute: its tag
// as an Enumeration, or a vendor reference for "vendor-name".
func Reference2(name string) ttlv.TTLV {
	if vendor, n, ok := cutVendor(name); ok {
		b, err := ttlv.Marshal(struct {
			TTLVTag              struct{} `ttlv:"AttributeReference"`
			VendorIdentification string
			AttributeName        string
		}{VendorIdentification: vendor, AttributeName: n})
		if err != nil {
			panic(err)
		}
		return b
	}
	tag, err := ttlv.DefaultRegistry.ParseTag(ttlv.NormalizeName(name))
	if err != nil {
		panic("kmiptest: unknown attribute " + name)
	}
	return enumeration(kmip20.TagAttributeReference, uint32(tag))
}

func cutVendor(name string) (vendor, n string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '-' {
			return name[:i], name[i+1:], i > 0 && i < len(name)-1
		}
	}
	return "", "", false
}

// enumeration encodes an Enumeration item.
func enumeration(tag ttlv.Tag, v uint32) ttlv.TTLV {
	out := make(ttlv.TTLV, 16)
	out[0], out[1], out[2], out[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeEnumeration)
	out[7] = 4
	out[8], out[9], out[10], out[11] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return out
}
