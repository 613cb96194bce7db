package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file is the wire side of clients_test.go: a KMIP session over
// crypto/tls whose messages the tests build themselves with the gemalto
// codec, so that headers, versions, batch item ids and attribute types
// are exactly what the client being imitated sends. Every answer is
// checked for what any client relies on (its version, the batch count,
// each item's operation and Unique Batch Item ID echoed, no tag the
// client's version lacks) before a test looks at the payloads.

// wireSession is one TLS connection speaking KMIP major.minor.
type wireSession struct {
	t            testing.TB
	conn         *tls.Conn
	major, minor int
	// last is the latest exchange, printed when an assertion on it fails.
	last string
}

// openWire connects to s with the development certificate pki/NAME.crt
// (client, vcenter) and speaks KMIP major.minor on that connection.
func openWire(t testing.TB, s *server, cert string, major, minor int) *wireSession {
	t.Helper()
	cfg := s.clientTLS(t)
	pair, err := tls.LoadX509KeyPair(s.pki(cert+".crt"), s.pki(cert+".key"))
	require.NoError(t, err, "client certificate %s", cert)
	cfg.Certificates = []tls.Certificate{pair}
	conn, err := dialTLS(s, cfg)
	require.NoError(t, err, "TLS connection as %s", cert)
	t.Cleanup(func() { _ = conn.Close() })
	return &wireSession{t: t, conn: conn, major: major, minor: minor}
}

func (w *wireSession) v2() bool { return w.major >= 2 }

func (w *wireSession) version() string { return fmt.Sprintf("%d.%d", w.major, w.minor) }

// wireItem is one batch item of a request.
type wireItem struct {
	op      kmip14.Operation
	payload any
}

// wireResult is one batch item of an answer, payload trimmed to itself.
type wireResult struct {
	Operation     kmip14.Operation
	ID            []byte
	ResultStatus  kmip14.ResultStatus
	ResultReason  kmip14.ResultReason
	ResultMessage string
	Payload       ttlv.TTLV
}

// wireResponse decodes a Response Message.
type wireResponse struct {
	ResponseHeader struct {
		ProtocolVersion gkmip.ProtocolVersion
		BatchCount      int
	}
	BatchItem []struct {
		Operation         kmip14.Operation
		UniqueBatchItemID []byte
		ResultStatus      kmip14.ResultStatus
		ResultReason      kmip14.ResultReason
		ResultMessage     string
		ResponsePayload   ttlv.TTLV
	}
}

// newBatchItemID returns an 8-byte Unique Batch Item ID, as vCenter sends.
func newBatchItemID(t testing.TB) []byte {
	id := make([]byte, 8)
	_, err := rand.Read(id)
	require.NoError(t, err)
	return id
}

// exchange sends one request message holding items, each with its own
// 8-byte Unique Batch Item ID, and returns the answer's items. It fails
// the test when the answer is not a well-formed Response Message, and
// asserts what every answer owes the client: its protocol version, one
// item per request item in order with the same operation and the same
// Unique Batch Item ID, and (to a 1.x client) no tag that 1.x lacks.
func (w *wireSession) exchange(items ...wireItem) []wireResult {
	t := w.t
	t.Helper()
	msg := gkmip.RequestMessage{
		RequestHeader: gkmip.RequestHeader{
			ProtocolVersion: gkmip.ProtocolVersion{ProtocolVersionMajor: w.major, ProtocolVersionMinor: w.minor},
			BatchCount:      len(items),
		},
	}
	ids := make([][]byte, len(items))
	for i, it := range items {
		ids[i] = newBatchItemID(t)
		msg.BatchItem = append(msg.BatchItem, gkmip.RequestBatchItem{
			Operation:         it.op,
			UniqueBatchItemID: ids[i],
			RequestPayload:    it.payload,
		})
	}
	req, err := ttlv.Marshal(msg)
	require.NoError(t, err, "encode the request")

	require.NoError(t, w.conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = w.conn.Write(req)
	require.NoError(t, err, "send the request:\n%s", req)
	raw, err := readMessage(w.conn)
	require.NoError(t, err, "read the answer to:\n%s", req)
	w.last = fmt.Sprintf("request:\n%s\nresponse:\n%s", req, raw)
	require.NoError(t, raw.Valid(), "the answer is not valid TTLV\n%s", w.last)
	require.Equal(t, kmip14.TagResponseMessage, raw.Tag(), "the answer is no Response Message\n%s", w.last)

	var resp wireResponse
	decodeWire(t, raw, &resp, w.last)
	assert.Equal(t, msg.RequestHeader.ProtocolVersion, resp.ResponseHeader.ProtocolVersion,
		"the answer must be in the request's version\n%s", w.last)
	w.checkVersionTags(raw)
	assert.Equal(t, len(items), resp.ResponseHeader.BatchCount, "Batch Count\n%s", w.last)
	require.Len(t, resp.BatchItem, len(items), "one answer item per request item\n%s", w.last)

	out := make([]wireResult, len(items))
	for i, bi := range resp.BatchItem {
		assert.Equal(t, items[i].op, bi.Operation, "item %d: Operation\n%s", i, w.last)
		assert.Equal(t, ids[i], bi.UniqueBatchItemID, "item %d: the Unique Batch Item ID must be echoed\n%s", i, w.last)
		out[i] = wireResult{
			Operation:     bi.Operation,
			ID:            bi.UniqueBatchItemID,
			ResultStatus:  bi.ResultStatus,
			ResultReason:  bi.ResultReason,
			ResultMessage: bi.ResultMessage,
			Payload:       trimTTLV(bi.ResponsePayload),
		}
	}
	return out
}

// call sends one operation, requires it to succeed and returns the
// response payload.
func (w *wireSession) call(op kmip14.Operation, payload any) ttlv.TTLV {
	w.t.Helper()
	r := w.exchange(wireItem{op, payload})[0]
	require.Equal(w.t, kmip14.ResultStatusSuccess, r.ResultStatus,
		"KMIP %s %s failed: %s: %s\n%s", w.version(), op, r.ResultReason, r.ResultMessage, w.last)
	return r.Payload
}

// checkVersionTags asserts that an answer to a 1.x client holds no tag
// that the client's version lacks (DESIGN.md section 6: never send a 1.x
// client a tag its version does not have).
func (w *wireSession) checkVersionTags(raw ttlv.TTLV) {
	w.t.Helper()
	if w.v2() {
		return
	}
	walkTTLV(raw, func(n ttlv.TTLV) {
		major, minor := tagSince(n.Tag())
		assert.False(w.t, major > w.major || (major == w.major && minor > w.minor),
			"KMIP %s answer holds %s (0x%06x), a KMIP %d.%d tag\n%s", w.version(), n.Tag(), uint32(n.Tag()), major, minor, w.last)
	})
}

// tagSince is the KMIP version that brought a tag, from the tag tables of
// KMIP 1.1 to 2.0: 1.2 starts at Key Value Location (0x4200B8), 1.3 at
// Offset Items (0x4200D4), 1.4 at Key Wrap Type (0x4200F8), 2.0 at
// Attributes (0x420125). Extension tags (0x54xxxx) belong to every
// version. Tags of 1.0 and 1.1 are not told apart.
func tagSince(tag ttlv.Tag) (major, minor int) {
	switch {
	case tag >= 0x540000:
		return 1, 0
	case tag >= kmip20.TagAttributes:
		return 2, 0
	case tag >= kmip14.TagKeyWrapType:
		return 1, 4
	case tag >= kmip14.TagOffsetItems:
		return 1, 3
	case tag >= kmip14.TagKeyValueLocation:
		return 1, 2
	default:
		return 1, 0
	}
}

// decodeWire decodes server bytes into v, failing the test (not the
// test binary) if the gemalto decoder panics on them.
func decodeWire(t testing.TB, raw ttlv.TTLV, v any, context string) {
	t.Helper()
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("decoder panic: %v", r)
			}
		}()
		err = ttlv.Unmarshal(raw, v)
	}()
	require.NoError(t, err, "decode %T from:\n%s\n%s", v, raw, context)
}

// decode decodes a payload of the latest exchange into v.
func (w *wireSession) decode(payload ttlv.TTLV, v any) {
	w.t.Helper()
	decodeWire(w.t, payload, v, w.last)
}

// trimTTLV cuts a decoded item to its own length: a ttlv.TTLV taken from
// a message runs on to the message's end.
func trimTTLV(t ttlv.TTLV) ttlv.TTLV {
	if len(t) < 8 || t.FullLen() > len(t) {
		return t
	}
	return t[:t.FullLen()]
}

// childrenOf returns the items of a structure.
func childrenOf(t ttlv.TTLV) []ttlv.TTLV {
	if len(t) < 8 || t.Type() != ttlv.TypeStructure {
		return nil
	}
	var out []ttlv.TTLV
	for c := t.ValueStructure(); len(c) >= 8 && c.Valid() == nil; c = c.Next() {
		out = append(out, trimTTLV(c))
	}
	return out
}

// walkTTLV calls f on t and every item inside it.
func walkTTLV(t ttlv.TTLV, f func(ttlv.TTLV)) {
	f(t)
	for _, c := range childrenOf(t) {
		walkTTLV(c, f)
	}
}

// sentAttr is an attribute as a test sends it: tag is set for a standard
// attribute (name is then its canonical name), a custom one is named
// "x-Something" (in 2.x: vendor "x", name "Something"). value is a Go
// value the gemalto encoder types (int32 Integer, int64 Long Integer,
// []byte Byte String, string Text String, ttlv.EnumValue or a kmip14 enum
// Enumeration, ttlv.Values Structure).
type sentAttr struct {
	name  string
	tag   ttlv.Tag
	value any
}

func std(tag ttlv.Tag, value any) sentAttr {
	return sentAttr{name: tag.CanonicalName(), tag: tag, value: value}
}

func custom(name string, value any) sentAttr {
	return sentAttr{name: name, value: value}
}

// vendorName splits a custom attribute's name into its 2.x vendor and
// attribute names.
func (a sentAttr) vendorName() (vendor, name string) {
	vendor, name, _ = strings.Cut(a.name, "-")
	return vendor, name
}

// wire renders the attribute for version 2.x (v2) or 1.x.
func (a sentAttr) wire(v2 bool) ttlv.Value {
	switch {
	case !v2:
		return ttlv.NewStruct(kmip14.TagAttribute,
			ttlv.NewValue(kmip14.TagAttributeName, a.name),
			ttlv.Value{Tag: kmip14.TagAttributeValue, Value: a.value})
	case a.tag != ttlv.TagNone:
		return ttlv.Value{Tag: a.tag, Value: a.value}
	default:
		vendor, name := a.vendorName()
		return ttlv.NewStruct(kmip14.TagAttribute,
			ttlv.NewValue(kmip14.TagVendorIdentification, vendor),
			ttlv.NewValue(kmip14.TagAttributeName, name),
			ttlv.Value{Tag: kmip14.TagAttributeValue, Value: a.value})
	}
}

// reference names the attribute in a Get Attributes request: by name in
// 1.x, by 2.x Attribute Reference (the tag as an Enumeration, or the
// vendor and name of a custom attribute).
func (a sentAttr) reference(v2 bool) ttlv.Value {
	switch {
	case !v2:
		return ttlv.NewValue(kmip14.TagAttributeName, a.name)
	case a.tag != ttlv.TagNone:
		return ttlv.NewValue(kmip20.TagAttributeReference, ttlv.EnumValue(uint32(a.tag)))
	default:
		vendor, name := a.vendorName()
		return ttlv.NewStruct(kmip20.TagAttributeReference,
			ttlv.NewValue(kmip14.TagVendorIdentification, vendor),
			ttlv.NewValue(kmip14.TagAttributeName, name))
	}
}

// encoded is the value as the TTLV the server must keep and answer.
func (a sentAttr) encoded(t testing.TB) ttlv.TTLV {
	t.Helper()
	b, err := ttlv.Marshal(ttlv.Value{Tag: kmip14.TagAttributeValue, Value: a.value})
	require.NoError(t, err, "encode the value of %s", a.name)
	return b
}

// payload is a Request Payload holding items.
func payload(items ...ttlv.Value) ttlv.Value {
	return ttlv.NewStruct(kmip14.TagRequestPayload, items...)
}

// template holds the attributes of a Create or Register: a 1.x
// Template-Attribute or a 2.x Attributes structure.
func (w *wireSession) template(attrs ...sentAttr) ttlv.Value {
	items := make([]ttlv.Value, len(attrs))
	for i, a := range attrs {
		items[i] = a.wire(w.v2())
	}
	if w.v2() {
		return ttlv.NewStruct(kmip20.TagAttributes, items...)
	}
	return ttlv.NewStruct(kmip14.TagTemplateAttribute, items...)
}

// aes256 is what every client here asks of a new key: AES-256 for
// Encrypt and Decrypt (usage mask 12).
func aes256() []sentAttr {
	return []sentAttr{
		std(kmip14.TagCryptographicAlgorithm, kmip14.CryptographicAlgorithmAES),
		std(kmip14.TagCryptographicLength, int32(256)),
		std(kmip14.TagCryptographicUsageMask, kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt),
	}
}

// createResponse is the Create answer.
type createResponse struct {
	ObjectType       kmip14.ObjectType
	UniqueIdentifier string
}

// create makes an AES-256 key with the extra attributes and returns its
// Unique Identifier.
func (w *wireSession) create(extra ...sentAttr) string {
	w.t.Helper()
	p := w.call(kmip14.OperationCreate, payload(
		ttlv.NewValue(kmip14.TagObjectType, kmip14.ObjectTypeSymmetricKey),
		w.template(append(aes256(), extra...)...)))
	var resp createResponse
	w.decode(p, &resp)
	assert.Equal(w.t, kmip14.ObjectTypeSymmetricKey, resp.ObjectType, "Create: Object Type\n%s", w.last)
	require.NotEmpty(w.t, resp.UniqueIdentifier, "Create: Unique Identifier\n%s", w.last)
	return resp.UniqueIdentifier
}

// locateResponse is the Locate answer.
type locateResponse struct {
	UniqueIdentifier []string
}

// locate returns the identifiers of the objects that hold every filter.
func (w *wireSession) locate(filters ...sentAttr) []string {
	w.t.Helper()
	var items []ttlv.Value
	if w.v2() {
		items = []ttlv.Value{w.template(filters...)}
	} else {
		for _, f := range filters {
			items = append(items, f.wire(false))
		}
	}
	var resp locateResponse
	w.decode(w.call(kmip14.OperationLocate, payload(items...)), &resp)
	return resp.UniqueIdentifier
}

// gotAttr is an attribute instance as the server answered it.
type gotAttr struct {
	Name  string
	Index int32
	Value ttlv.TTLV // tagged Attribute Value (1.x, vendor) or by the attribute (2.x)
}

// getAttributes asks for the named attributes of id (all of them when
// none is named) and returns what the answer holds, in its order. It
// asserts that the answer names id.
func (w *wireSession) getAttributes(id string, names ...sentAttr) []gotAttr {
	w.t.Helper()
	items := []ttlv.Value{ttlv.NewValue(kmip14.TagUniqueIdentifier, id)}
	for _, n := range names {
		items = append(items, n.reference(w.v2()))
	}
	p := w.call(kmip14.OperationGetAttributes, payload(items...))
	var head struct{ UniqueIdentifier string }
	w.decode(p, &head)
	assert.Equal(w.t, id, head.UniqueIdentifier, "Get Attributes: Unique Identifier\n%s", w.last)
	return w.attributesIn(p)
}

// attributesIn reads the attributes of a 1.x answer (Attribute items) or
// of a 2.x one (an Attributes structure of tagged items and vendor
// Attribute structures).
func (w *wireSession) attributesIn(p ttlv.TTLV) []gotAttr {
	w.t.Helper()
	var out []gotAttr
	items := childrenOf(p)
	if w.v2() {
		items = nil
		for _, c := range childrenOf(p) {
			if c.Tag() == kmip20.TagAttributes {
				items = append(items, childrenOf(c)...)
			}
		}
	}
	for _, c := range items {
		if c.Tag() != kmip14.TagAttribute {
			if w.v2() {
				out = append(out, gotAttr{Name: c.Tag().CanonicalName(), Value: c})
			}
			continue
		}
		var a struct {
			VendorIdentification string
			AttributeName        string
			AttributeIndex       int32
			AttributeValue       ttlv.TTLV
		}
		w.decode(c, &a)
		name := a.AttributeName
		if a.VendorIdentification != "" {
			name = a.VendorIdentification + "-" + name
		}
		out = append(out, gotAttr{Name: name, Index: a.AttributeIndex, Value: trimTTLV(a.AttributeValue)})
	}
	return out
}

// byName groups answered attributes by name.
func byName(list []gotAttr) map[string][]ttlv.TTLV {
	out := map[string][]ttlv.TTLV{}
	for _, a := range list {
		out[a.Name] = append(out[a.Name], a.Value)
	}
	return out
}

// assertAttr asserts that the answer holds exactly one instance of a
// with a's TTLV type and value.
func (w *wireSession) assertAttr(got map[string][]ttlv.TTLV, a sentAttr) bool {
	w.t.Helper()
	values := got[a.name]
	if !assert.Len(w.t, values, 1, "KMIP %s: instances of %s\n%s", w.version(), a.name, w.last) {
		return false
	}
	return assertSameValue(w.t, a.encoded(w.t), values[0], "KMIP %s: %s\n%s", w.version(), a.name, w.last)
}

// assertSameValue asserts that got has want's type and value, whatever
// either is tagged.
func assertSameValue(t testing.TB, want, got ttlv.TTLV, msgAndArgs ...any) bool {
	t.Helper()
	if !assert.Equal(t, want.Type(), got.Type(), msgAndArgs...) {
		return false
	}
	if want.Type() == ttlv.TypeStructure {
		// Compare members by tag, type and value.
		return assert.Equal(t, describeMembers(want), describeMembers(got), msgAndArgs...)
	}
	return assert.Equal(t, want.ValueRaw(), got.ValueRaw(), msgAndArgs...)
}

func describeMembers(t ttlv.TTLV) []string {
	var out []string
	for _, c := range childrenOf(t) {
		out = append(out, fmt.Sprintf("%s %s %x", c.Tag(), c.Type(), c.ValueRaw()))
	}
	return out
}

// enumValue reads an Enumeration answer.
func enumValue(t ttlv.TTLV) uint32 {
	if len(t) < 8 || t.Type() != ttlv.TypeEnumeration {
		return 0
	}
	return uint32(t.ValueEnumeration())
}

// getResponse is the Get answer for the object types the tests use.
type getResponse struct {
	ObjectType       kmip14.ObjectType
	UniqueIdentifier string
	SymmetricKey     *gkmip.SymmetricKey
	SecretData       *gkmip.SecretData
}

// keyBlock checks a Get answer's Key Block: plain material as a Byte
// String, no attributes inside the Key Value (1.x must not have them
// there). It returns the material.
func (w *wireSession) keyBlock(kb gkmip.KeyBlock, format kmip14.KeyFormatType) []byte {
	w.t.Helper()
	assert.Equal(w.t, format, kb.KeyFormatType, "Key Format Type\n%s", w.last)
	require.NotNil(w.t, kb.KeyValue, "Key Value\n%s", w.last)
	assert.Empty(w.t, kb.KeyValue.Attribute, "Get must not put attributes inside the Key Value\n%s", w.last)
	material, ok := kb.KeyValue.KeyMaterial.([]byte)
	require.True(w.t, ok, "Key Material is a %T, want a Byte String\n%s", kb.KeyValue.KeyMaterial, w.last)
	return material
}

// getKey gets the symmetric key id and returns its material, checking
// that it is an AES-256 key in Raw format.
func (w *wireSession) getKey(id string) []byte {
	w.t.Helper()
	var resp getResponse
	w.decode(w.call(kmip14.OperationGet, payload(ttlv.NewValue(kmip14.TagUniqueIdentifier, id))), &resp)
	assert.Equal(w.t, id, resp.UniqueIdentifier, "Get: Unique Identifier\n%s", w.last)
	require.Equal(w.t, kmip14.ObjectTypeSymmetricKey, resp.ObjectType, "Get: Object Type\n%s", w.last)
	require.NotNil(w.t, resp.SymmetricKey, "Get: Symmetric Key\n%s", w.last)
	kb := resp.SymmetricKey.KeyBlock
	material := w.keyBlock(kb, kmip14.KeyFormatTypeRaw)
	assert.Equal(w.t, kmip14.CryptographicAlgorithmAES, kb.CryptographicAlgorithm, "Get: Cryptographic Algorithm\n%s", w.last)
	assert.Equal(w.t, 256, kb.CryptographicLength, "Get: Cryptographic Length\n%s", w.last)
	require.Len(w.t, material, 32, "Get: AES-256 material\n%s", w.last)
	assert.False(w.t, bytes.Equal(material, make([]byte, 32)), "Get: all-zero key material")
	recordKey(id, material)
	return material
}

// destroy destroys id.
func (w *wireSession) destroy(id string) {
	w.t.Helper()
	w.call(kmip14.OperationDestroy, payload(ttlv.NewValue(kmip14.TagUniqueIdentifier, id)))
}

// randomUint32 returns a random number.
func randomUint32(t testing.TB) uint32 {
	t.Helper()
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return binary.BigEndian.Uint32(b[:])
}

// randomHex returns n random bytes in hex: names unique to one run, so
// that Locate on the shared server finds only this test's objects.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return fmt.Sprintf("%x", b)
}
