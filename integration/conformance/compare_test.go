package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// now is the moment the tests' requests are sent.
var now = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// nowText is now in the XML form.
var nowText = now.Format(time.RFC3339)

// message wraps batch items in a Response Message of version 1.4.
func message(ts string, items ...string) string {
	return `<ResponseMessage>` + respHeader14(ts) + strings.Join(items, "") + `</ResponseMessage>`
}

// item is a batch item of op with result status and payload.
func item(op, status, payload string) string {
	return `<BatchItem><Operation type="Enumeration" value="` + op + `"/>` +
		`<ResultStatus type="Enumeration" value="` + status + `"/>` + payload + `</BatchItem>`
}

func payload(children ...string) string {
	return `<ResponsePayload>` + strings.Join(children, "") + `</ResponsePayload>`
}

func uid(v string) string { return `<UniqueIdentifier type="TextString" value="` + v + `"/>` }

func attribute(name, tp, value string) string {
	return `<Attribute><AttributeName type="TextString" value="` + name + `"/>` +
		`<AttributeValue type="` + tp + `" value="` + value + `"/></Attribute>`
}

// compare compares got with want on fresh bindings (or b).
func compare(t *testing.T, want, got string, b ...*Bindings) *Difference {
	t.Helper()
	c := Comparer{Bindings: NewBindings(), Now: now}
	if len(b) > 0 {
		c.Bindings = b[0]
	}
	return c.Message(parseXML(t, want), parseXML(t, got))
}

func TestCompare(t *testing.T) {
	getAttrs := func(state, mask string) string {
		return item("GetAttributes", "Success", payload(uid("$UNIQUE_IDENTIFIER_0"),
			attribute("Object Type", "Enumeration", "SymmetricKey"),
			attribute("Cryptographic Algorithm", "Enumeration", "AES"),
			attribute("Cryptographic Usage Mask", "Integer", mask),
			attribute("State", "Enumeration", state)))
	}
	gotAttrs := func(state, mask string) string {
		return item("GetAttributes", "Success", payload(uid("id-1"),
			attribute("Object Type", "Enumeration", "SymmetricKey"),
			attribute("Cryptographic Algorithm", "Enumeration", "AES"),
			attribute("Cryptographic Usage Mask", "Integer", mask),
			attribute("State", "Enumeration", state)))
	}
	tests := []struct {
		name      string
		want, got string
		// diff is the expected difference, "" for none.
		diff string
	}{
		{
			name: "same, with placeholders, time stamp and mask in another order",
			want: message("$NOW", getAttrs("PreActive", "Decrypt Encrypt")),
			got:  message("1999-01-01T00:00:00Z", gotAttrs("PreActive", "Encrypt Decrypt")),
		},
		{
			name: "attribute value differs, with its path",
			want: message("$NOW", getAttrs("PreActive", "Decrypt Encrypt")),
			got:  message(nowText, gotAttrs("Active", "Encrypt Decrypt")),
			diff: `BatchItem[0]/ResponsePayload/Attribute[State]/AttributeValue: want PreActive, got Active (attribute "State")`,
		},
		{
			name: "mask differs",
			want: message("$NOW", getAttrs("PreActive", "Decrypt Encrypt")),
			got:  message(nowText, gotAttrs("PreActive", "Encrypt")),
			diff: `BatchItem[0]/ResponsePayload/Attribute[Cryptographic Usage Mask]/AttributeValue: want Encrypt|Decrypt (0x0000000C), got Encrypt (0x00000004) (attribute "Cryptographic Usage Mask")`,
		},
		{
			name: "order differs",
			want: message("$NOW", item("Create", "Success", payload(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("$UNIQUE_IDENTIFIER_0")))),
			got:  message(nowText, item("Create", "Success", payload(uid("id-1"), `<ObjectType type="Enumeration" value="SymmetricKey"/>`))),
			diff: `BatchItem[0]/ResponsePayload/ObjectType: want ObjectType SymmetricKey, got UniqueIdentifier "id-1"`,
		},
		{
			name: "type differs",
			want: message("$NOW", item("Create", "Success", payload(`<CryptographicLength type="Integer" value="256"/>`))),
			got:  message(nowText, item("Create", "Success", payload(`<CryptographicLength type="LongInteger" value="256"/>`))),
			diff: `BatchItem[0]/ResponsePayload/CryptographicLength: want type Integer, got type LongInteger`,
		},
		{
			name: "missing item",
			want: message("$NOW", getAttrs("PreActive", "Decrypt Encrypt")),
			got: message(nowText, item("GetAttributes", "Success", payload(uid("id-1"),
				attribute("Object Type", "Enumeration", "SymmetricKey")))),
			diff: `BatchItem[0]/ResponsePayload/Attribute[Cryptographic Algorithm]: missing (want Attribute "Cryptographic Algorithm") (attribute "Cryptographic Algorithm")`,
		},
		{
			name: "unexpected item",
			want: message("$NOW", item("Destroy", "Success", payload(uid("$UNIQUE_IDENTIFIER_0")))),
			got:  message(nowText, item("Destroy", "Success", payload(uid("id-1"), uid("id-2")))),
			diff: `BatchItem[0]/ResponsePayload/UniqueIdentifier[1]: unexpected UniqueIdentifier "id-2"`,
		},
		{
			name: "failure where success is expected: status, reason and message",
			want: message("$NOW", item("Destroy", "Success", payload(uid("$UNIQUE_IDENTIFIER_0")))),
			got: message(nowText, `<BatchItem><Operation type="Enumeration" value="Destroy"/>`+
				`<ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="PermissionDenied"/>`+
				`<ResultMessage type="TextString" value="active"/></BatchItem>`),
			diff: `BatchItem[0]/ResultStatus: want Success, got OperationFailed PermissionDenied "active"`,
		},
		{
			name: "result message: any text",
			want: message("$NOW", `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/>`+
				`<ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="DENIED"/></BatchItem>`),
			got: message(nowText, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/>`+
				`<ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="no such object"/></BatchItem>`),
		},
		{
			name: "result message: present",
			want: message("$NOW", `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/>`+
				`<ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="DENIED"/></BatchItem>`),
			got: message(nowText, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/>`+
				`<ResultReason type="Enumeration" value="ItemNotFound"/></BatchItem>`),
			diff: `BatchItem[0]/ResultMessage: missing (want a Result Message)`,
		},
		{
			name: "result reason differs",
			want: message("$NOW", `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/>`+
				`<ResultReason type="Enumeration" value="ObjectNotFound"/><ResultMessage type="TextString" value="DENIED"/></BatchItem>`),
			got: message(nowText, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/>`+
				`<ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="x"/></BatchItem>`),
			diff: `BatchItem[0]/ResultReason: want ObjectNotFound, got ItemNotFound`,
		},
		{
			name: "correlation values: present or not, any value",
			want: `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/></ProtocolVersion>` +
				`<TimeStamp type="DateTime" value="$NOW"/><ServerCorrelationValue type="TextString" value="55EBE18E-4"/><BatchCount type="Integer" value="1"/></ResponseHeader>` +
				item("Interop", "Success", payload()) + `</ResponseMessage>`,
			got: `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/></ProtocolVersion>` +
				`<TimeStamp type="DateTime" value="` + nowText + `"/><ClientCorrelationValue type="TextString" value="c"/><BatchCount type="Integer" value="1"/></ResponseHeader>` +
				item("Interop", "Success", payload()) + `</ResponseMessage>`,
		},
		{
			name: "protocol version differs",
			want: message("$NOW", item("Query", "Success", payload())),
			got: `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="2"/></ProtocolVersion>` +
				`<TimeStamp type="DateTime" value="` + nowText + `"/><BatchCount type="Integer" value="1"/></ResponseHeader>` + item("Query", "Success", payload()) + `</ResponseMessage>`,
			diff: `ResponseHeader/ProtocolVersion/ProtocolVersionMinor: want 4, got 2`,
		},
		{
			name: "batch items missing",
			want: message("$NOW", item("Query", "Success", payload()), item("Query", "Success", payload())),
			got:  message(nowText, item("Query", "Success", payload())),
			diff: `BatchItem[1]: missing: the response has 1 batch items, want 2`,
		},
		{
			name: "batch items added",
			want: message("$NOW", item("Query", "Success", payload())),
			got:  message(nowText, item("Query", "Success", payload()), item("Query", "Success", payload())),
			diff: `BatchItem[1]: unexpected: the response has 2 batch items, want 1`,
		},
		{
			name: "times: $NOW-3600 is not now",
			want: message("$NOW", item("GetAttributes", "Success", payload(attribute("Activation Date", "DateTime", "$NOW-3600")))),
			got:  message(nowText, item("GetAttributes", "Success", payload(attribute("Activation Date", "DateTime", nowText)))),
			diff: `BatchItem[0]/ResponsePayload/Attribute[Activation Date]/AttributeValue: want $NOW-3600 (about 2024-05-06T06:08:09Z), got 2024-05-06T07:08:09Z (attribute "Activation Date")`,
		},
		{
			name: "times: $NOW-3600 within the tolerance",
			want: message("$NOW", item("GetAttributes", "Success", payload(attribute("Activation Date", "DateTime", "$NOW-3600")))),
			got:  message(nowText, item("GetAttributes", "Success", payload(attribute("Activation Date", "DateTime", now.Add(-time.Hour+3*time.Second).Format(time.RFC3339))))),
		},
		{
			name: "times: a concrete time must match",
			want: message("$NOW", item("GetAttributes", "Success", payload(attribute("Deactivation Date", "DateTime", "2030-01-01T00:00:00+00:00")))),
			got:  message(nowText, item("GetAttributes", "Success", payload(attribute("Deactivation Date", "DateTime", "2030-01-01T00:00:01Z")))),
			diff: `BatchItem[0]/ResponsePayload/Attribute[Deactivation Date]/AttributeValue: want 2030-01-01T00:00:00Z, got 2030-01-01T00:00:01Z (attribute "Deactivation Date")`,
		},
		{
			name: "Query: the operations listed and more, in any order",
			want: message("$NOW", item("Query", "Success", payload(
				`<Operation type="Enumeration" value="Query"/><Operation type="Enumeration" value="Locate"/>`,
				`<ObjectType type="Enumeration" value="SymmetricKey"/>`,
				`<VendorIdentification type="TextString" value="server-vendor.com"/><ServerInformation/>`))),
			got: message(nowText, item("Query", "Success", payload(
				`<Operation type="Enumeration" value="Create"/><Operation type="Enumeration" value="Locate"/><Operation type="Enumeration" value="Query"/>`,
				`<ObjectType type="Enumeration" value="SecretData"/><ObjectType type="Enumeration" value="SymmetricKey"/>`,
				`<VendorIdentification type="TextString" value="us"/><ServerInformation><BuildLevel type="TextString" value="1"/></ServerInformation>`))),
		},
		{
			name: "Query: an operation missing",
			want: message("$NOW", item("Query", "Success", payload(
				`<Operation type="Enumeration" value="Query"/><Operation type="Enumeration" value="Check"/>`))),
			got: message(nowText, item("Query", "Success", payload(
				`<Operation type="Enumeration" value="Query"/><Operation type="Enumeration" value="Locate"/>`))),
			diff: `BatchItem[0]/ResponsePayload/Operation: missing Operation Check (the server lists 2 Operation items)`,
		},
		{
			name: "Get Attribute List: names in any order",
			want: message("$NOW", item("GetAttributeList", "Success", payload(uid("$UNIQUE_IDENTIFIER_0"),
				`<AttributeName type="TextString" value="x-ID"/><AttributeName type="TextString" value="State"/>`))),
			got: message(nowText, item("GetAttributeList", "Success", payload(uid("id-1"),
				`<AttributeName type="TextString" value="State"/><AttributeName type="TextString" value="x-ID"/>`))),
		},
		{
			name: "Get Attribute List: names missing and added",
			want: message("$NOW", item("GetAttributeList", "Success", payload(uid("$UNIQUE_IDENTIFIER_0"),
				`<AttributeName type="TextString" value="Fresh"/><AttributeName type="TextString" value="State"/><AttributeName type="TextString" value="Lease Time"/>`))),
			got: message(nowText, item("GetAttributeList", "Success", payload(uid("id-1"),
				`<AttributeName type="TextString" value="State"/><AttributeName type="TextString" value="Name"/>`))),
			diff: `BatchItem[0]/ResponsePayload/AttributeName: missing "Fresh", "Lease Time"; unexpected "Name"`,
		},
		{
			name: "Get Attribute List: 2.x references",
			want: message("$NOW", item("GetAttributeList", "Success", payload(uid("$UNIQUE_IDENTIFIER_0"),
				`<AttributeReference type="Enumeration" value="State"/><AttributeReference type="Enumeration" value="Fresh"/>`))),
			got: message(nowText, item("GetAttributeList", "Success", payload(uid("id-1"),
				`<AttributeReference type="Enumeration" value="State"/>`))),
			diff: `BatchItem[0]/ResponsePayload/AttributeReference: missing Fresh`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := compare(t, tt.want, tt.got)
			if tt.diff == "" {
				assert.Nil(t, d)
				return
			}
			require.NotNil(t, d)
			assert.Equal(t, tt.diff, d.Error())
		})
	}
}

// TestCompareBindsIdentifiers: the first sight of a placeholder binds
// it, later sights must hold the same value, and requests use it.
func TestCompareBindsIdentifiers(t *testing.T) {
	b := NewBindings()
	create := message("$NOW", item("Create", "Success", payload(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("$UNIQUE_IDENTIFIER_0"))))
	require.Nil(t, compare(t, create, message(nowText, item("Create", "Success", payload(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid("id-7")))), b))
	bound, ok := b.Value("UNIQUE_IDENTIFIER_0")
	require.True(t, ok)
	assert.Equal(t, "id-7", bound.Value)

	destroy := message("$NOW", item("Destroy", "Success", payload(uid("$UNIQUE_IDENTIFIER_0"))))
	assert.Nil(t, compare(t, destroy, message(nowText, item("Destroy", "Success", payload(uid("id-7")))), b))
	d := compare(t, destroy, message(nowText, item("Destroy", "Success", payload(uid("id-8")))), b)
	require.NotNil(t, d)
	assert.Equal(t, `BatchItem[0]/ResponsePayload/UniqueIdentifier: want $UNIQUE_IDENTIFIER_0 = "id-7", got "id-8"`, d.Error())

	// The attribute holding the identifier as well.
	getAttrs := message("$NOW", item("GetAttributes", "Success", payload(uid("$UNIQUE_IDENTIFIER_0"), attribute("Unique Identifier", "TextString", "$UNIQUE_IDENTIFIER_0"))))
	d = compare(t, getAttrs, message(nowText, item("GetAttributes", "Success", payload(uid("id-7"), attribute("Unique Identifier", "TextString", "id-9")))), b)
	require.NotNil(t, d)
	assert.Contains(t, d.Error(), `Attribute[Unique Identifier]/AttributeValue: want $UNIQUE_IDENTIFIER_0 = "id-7", got "id-9"`)
}

// TestCompareGeneratedMaterial: the digest and key material of a key
// the server generated are its own; those of a registered key must be
// those the client sent.
func TestCompareGeneratedMaterial(t *testing.T) {
	get := func(id, material string) string {
		return item("Get", "Success", payload(`<ObjectType type="Enumeration" value="SymmetricKey"/>`, uid(id),
			`<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="`+material+`"/></KeyValue>`+
				`<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="128"/></KeyBlock></SymmetricKey>`))
	}
	digest := func(id, value string) string {
		return item("GetAttributes", "Success", payload(uid(id), `<Attribute><AttributeName type="TextString" value="Digest"/><AttributeValue>`+
			`<HashingAlgorithm type="Enumeration" value="SHA_256"/><DigestValue type="ByteString" value="`+value+`"/>`+
			`<KeyFormatType type="Enumeration" value="Raw"/></AttributeValue></Attribute>`))
	}
	for _, generated := range []bool{true, false} {
		b := NewBindings()
		op := "Register"
		if generated {
			op = "Create"
		}
		resp := parseXML(t, message(nowText, item(op, "Success", payload(uid("id-1")))))
		b.learn(resp)
		require.Nil(t, compare(t, message("$NOW", item(op, "Success", payload(uid("$UNIQUE_IDENTIFIER_0")))), message(nowText, item(op, "Success", payload(uid("id-1")))), b))

		d := compare(t, message("$NOW", get("$UNIQUE_IDENTIFIER_0", "00112233445566778899aabbccddeeff")), message(nowText, get("id-1", "ffeeddccbbaa99887766554433221100")), b)
		d2 := compare(t, message("$NOW", digest("$UNIQUE_IDENTIFIER_0", "aaaa")), message(nowText, digest("id-1", "bbbb")), b)
		if generated {
			assert.Nil(t, d, "generated material")
			assert.Nil(t, d2, "digest of generated material")
		} else {
			require.NotNil(t, d)
			assert.Equal(t, "BatchItem[0]/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial: want 00112233445566778899aabbccddeeff, got ffeeddccbbaa99887766554433221100", d.Error())
			require.NotNil(t, d2)
			assert.Contains(t, d2.Error(), "DigestValue: want aaaa, got bbbb")
		}
		// The structure around the material is compared all the same.
		d = compare(t, message("$NOW", get("$UNIQUE_IDENTIFIER_0", "00")), message(nowText, strings.Replace(get("id-1", "00"), `value="128"`, `value="256"`, 1)), b)
		require.NotNil(t, d)
		assert.Contains(t, d.Error(), "CryptographicLength: want 128, got 256")
	}
}

// TestCompareRecordedTimes: the 1.0-1.2 files hold the times of the run
// that recorded them; those the client sent must come back as sent.
func TestCompareRecordedTimes(t *testing.T) {
	b := NewBindings()
	req := parseXML(t, `<RequestMessage>`+header14+`<BatchItem><Operation type="Enumeration" value="Revoke"/><RequestPayload>`+
		`<CompromiseOccurrenceDate type="DateTime" value="1970-01-01T00:00:06+00:00"/></RequestPayload></BatchItem></RequestMessage>`)
	_, err := b.Fill(req, now)
	require.NoError(t, err)

	want := parseXML(t, message("2012-04-27T08:12:24+00:00", item("GetAttributes", "Success", payload(
		attribute("Initial Date", "DateTime", "2013-01-10T23:33:21+00:00"),
		attribute("Compromise Occurrence Date", "DateTime", "1970-01-01T00:00:06+00:00")))))
	got := func(sent string) *Node {
		return parseXML(t, message(nowText, item("GetAttributes", "Success", payload(
			attribute("Initial Date", "DateTime", nowText),
			attribute("Compromise Occurrence Date", "DateTime", sent)))))
	}
	recorded := Comparer{Bindings: b, Now: now, Recorded: true}
	assert.Nil(t, recorded.Message(want, got("1970-01-01T00:00:06Z")))
	d := recorded.Message(want, got("1970-01-01T00:00:07Z"))
	require.NotNil(t, d)
	assert.Contains(t, d.Error(), "want 1970-01-01T00:00:06Z, got 1970-01-01T00:00:07Z")

	strict := Comparer{Bindings: b, Now: now}
	d = strict.Message(want, got("1970-01-01T00:00:06Z"))
	require.NotNil(t, d, "outside recorded traces, a concrete time must match")
	assert.Contains(t, d.Error(), "Initial Date")
}

func TestFill(t *testing.T) {
	b := NewBindings()
	req := parseXML(t, `<RequestMessage>`+header14+`<BatchItem><Operation type="Enumeration" value="Get"/><RequestPayload>`+
		uid("$UNIQUE_IDENTIFIER_1")+
		`<ActivationDate type="DateTime" value="$NOW-3600"/><DeactivationDate type="DateTime" value="$NOW+3600"/>`+
		`<InitialDate type="DateTime" value="$NOW"/></RequestPayload></BatchItem></RequestMessage>`)

	_, err := b.Fill(req, now)
	require.Error(t, err, "nothing bound $UNIQUE_IDENTIFIER_1 yet")
	assert.Contains(t, err.Error(), "$UNIQUE_IDENTIFIER_1")

	b.Bind("UNIQUE_IDENTIFIER_1", &Node{Tag: kmip14.TagUniqueIdentifier, Type: req.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload).Children[0].Type, Value: "id-1"})
	filled, err := b.Fill(req, now)
	require.NoError(t, err)
	p := filled.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload)
	assert.Equal(t, "id-1", p.Child(kmip14.TagUniqueIdentifier).Value)
	assert.Equal(t, now.Add(-time.Hour), p.Child(kmip14.TagActivationDate).Value)
	assert.Equal(t, now.Add(time.Hour), p.Child(kmip14.TagDeactivationDate).Value)
	assert.Equal(t, now, p.Child(kmip14.TagInitialDate).Value)
	_, err = Encode(filled)
	require.NoError(t, err)
	// The vector itself is left as it was.
	assert.Equal(t, "UNIQUE_IDENTIFIER_1", req.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload).Child(kmip14.TagUniqueIdentifier).Placeholder)

	// The next file of a group binds its own placeholders, but its
	// requests still see what earlier files bound.
	b.NextFile()
	_, ok := b.Value("UNIQUE_IDENTIFIER_1")
	assert.False(t, ok, "a new file binds anew")
	filled, err = b.Fill(req, now)
	require.NoError(t, err)
	assert.Equal(t, "id-1", filled.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload).Child(kmip14.TagUniqueIdentifier).Value)
	b.Bind("UNIQUE_IDENTIFIER_1", &Node{Tag: kmip14.TagUniqueIdentifier, Type: filled.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload).Child(kmip14.TagUniqueIdentifier).Type, Value: "id-2"})
	filled, err = b.Fill(req, now)
	require.NoError(t, err)
	assert.Equal(t, "id-2", filled.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload).Child(kmip14.TagUniqueIdentifier).Value)

	bad := parseXML(t, `<RequestPayload><UniqueIdentifier type="TextString" value="$NOW"/></RequestPayload>`)
	_, err = b.Fill(bad, now)
	assert.Error(t, err, "$NOW in a text string")
}

// TestCompareBindsGeneratedValues: a placeholder in generated material
// ($KEY_MATERIAL_0) binds the server's value, for a later request.
func TestCompareBindsGeneratedValues(t *testing.T) {
	b := NewBindings()
	b.learn(parseXML(t, message(nowText, item("Create", "Success", payload(uid("id-1"))))))
	get := func(id, material string) string {
		return message(nowText, item("Get", "Success", payload(uid(id),
			`<SymmetricKey><KeyBlock><KeyValue><KeyMaterial type="ByteString" value="`+material+`"/></KeyValue></KeyBlock></SymmetricKey>`)))
	}
	require.Nil(t, compare(t, get("$UNIQUE_IDENTIFIER_0", "$KEY_MATERIAL_0"), get("id-1", "c0ffee"), b))
	req := parseXML(t, `<RequestPayload><KeyMaterial type="ByteString" value="$KEY_MATERIAL_0"/></RequestPayload>`)
	filled, err := b.Fill(req, now)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xc0, 0xff, 0xee}, filled.Child(kmip14.TagKeyMaterial).Value)
}

// TestCompareAttributeSets: Get Attributes answers are sets; an attribute
// the server keeps and the vector's server did not is allowed only when
// its presence is the implementation's choice.
func TestCompareAttributeSets(t *testing.T) {
	answer := func(attrs ...string) string {
		return message(nowText, item("GetAttributes", "Success", payload(append([]string{uid("id-1")}, attrs...)...)))
	}
	state := attribute("State", "Enumeration", "PreActive")
	length := attribute("Cryptographic Length", "Integer", "256")
	lease := attribute("Lease Time", "Interval", "3600")
	contact := attribute("Contact Information", "TextString", "ops")
	tests := []struct {
		name    string
		want    string
		got     string
		problem string
	}{
		{"same set in another order", answer(state, length), answer(length, state), ""},
		{"a server-chosen extra is allowed", answer(state), answer(state, lease), ""},
		{"any other extra is not", answer(state), answer(state, contact), "unexpected attribute"},
		{"an expected attribute must be there", answer(state, lease), answer(state), "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := compare(t, tt.want, tt.got)
			if tt.problem == "" {
				assert.Nil(t, d)
			} else {
				require.NotNil(t, d)
				assert.Contains(t, d.Error(), tt.problem)
			}
		})
	}
}
