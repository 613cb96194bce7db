package conformance

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseXML reads one element (a message or any structure) the way
// ParseVector reads the elements of a file.
func parseXML(t *testing.T, s string) *Node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	start, err := nextStart(d)
	require.NoError(t, err)
	n, err := parseElement(d, start, 1, false)
	require.NoError(t, err)
	return n
}

// header is a request header of version 1.4.
const header14 = `<RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/>` +
	`<ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader>`

// respHeader14 is a response header of version 1.4 with a time stamp.
func respHeader14(ts string) string {
	return `<ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/>` +
		`<ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion>` +
		`<TimeStamp type="DateTime" value="` + ts + `"/><BatchCount type="Integer" value="1"/></ResponseHeader>`
}

// createVector is a small vector in the 1.3+ form: a Create whose
// identifier the Get after it uses.
var createVector = `<KMIP>
<!-- a comment, as the OASIS files have -->
<RequestMessage>` + header14 + `
  <BatchItem>
    <Operation type="Enumeration" value="Create"/>
    <RequestPayload>
      <ObjectType type="Enumeration" value="SymmetricKey"/>
      <TemplateAttribute>
        <Attribute>
          <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
          <AttributeValue type="Integer" value="Encrypt Decrypt"/>
        </Attribute>
        <Attribute>
          <AttributeName type="TextString" value="Activation Date"/>
          <AttributeValue type="DateTime" value="$NOW-3600"/>
        </Attribute>
      </TemplateAttribute>
    </RequestPayload>
  </BatchItem>
</RequestMessage>
<ResponseMessage>` + respHeader14("$NOW") + `
  <BatchItem>
    <Operation type="Enumeration" value="Create"/>
    <ResultStatus type="Enumeration" value="Success"/>
    <ResponsePayload>
      <ObjectType type="Enumeration" value="SymmetricKey"/>
      <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
    </ResponsePayload>
  </BatchItem>
</ResponseMessage>
<RequestMessage>` + header14 + `
  <BatchItem>
    <Operation type="Enumeration" value="GetAttributes"/>
    <RequestPayload>
      <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
    </RequestPayload>
  </BatchItem>
</RequestMessage>
<ResponseMessage>` + respHeader14("$NOW") + `
  <BatchItem>
    <Operation type="Enumeration" value="GetAttributes"/>
    <ResultStatus type="Enumeration" value="Success"/>
    <ResponsePayload>
      <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
      <Attribute>
        <AttributeName type="TextString" value="State"/>
        <AttributeValue type="Enumeration" value="PreActive"/>
      </Attribute>
      <Attribute>
        <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
        <AttributeValue type="Integer" value="Decrypt Encrypt"/>
      </Attribute>
    </ResponsePayload>
  </BatchItem>
</ResponseMessage>
</KMIP>`

func TestParseVector(t *testing.T) {
	v, err := ParseVector("SKLC-M-1-14", []byte(createVector))
	require.NoError(t, err)
	assert.Equal(t, Version{1, 4}, v.Version)
	assert.False(t, v.Recorded)
	require.Len(t, v.Exchanges, 2)

	create := v.Exchanges[0].Request
	assert.Equal(t, kmip14.TagRequestMessage, create.Tag)
	item := create.Child(kmip14.TagBatchItem)
	assert.Equal(t, uint32(kmip14.OperationCreate), item.Child(kmip14.TagOperation).Value)
	attrs := item.Child(kmip14.TagRequestPayload).Child(kmip14.TagTemplateAttribute).ChildrenOf(kmip14.TagAttribute)
	require.Len(t, attrs, 2)
	// A mask by its bit names, the names of the attribute its Attribute
	// Name names.
	assert.Equal(t, int32(kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt), attrs[0].Child(kmip14.TagAttributeValue).Value)
	// A placeholder stays one.
	date := attrs[1].Child(kmip14.TagAttributeValue)
	assert.Equal(t, "NOW-3600", date.Placeholder)
	assert.Nil(t, date.Value)

	got := v.Exchanges[1].Response.Child(kmip14.TagBatchItem).Child(kmip14.TagResponsePayload).ChildrenOf(kmip14.TagAttribute)
	assert.Equal(t, uint32(kmip14.StatePreActive), got[0].Child(kmip14.TagAttributeValue).Value, "an enumeration named after its attribute")
	assert.Equal(t, attrs[0].Child(kmip14.TagAttributeValue).Value, got[1].Child(kmip14.TagAttributeValue).Value,
		"Encrypt Decrypt and Decrypt Encrypt are one mask")
}

// TestParseRecordedVector reads the 1.0-1.2 form: a <KmipTestCase> root,
// hex enumerations, runs of spaces in names, recorded times.
func TestParseRecordedVector(t *testing.T) {
	doc := `<KmipTestCase>
  <RequestMessage>
    <RequestHeader>
      <ProtocolVersion>
        <ProtocolVersionMajor type="Integer" value="1" />
        <ProtocolVersionMinor type="Integer" value="1" />
        </ProtocolVersion>
      <BatchCount type="Integer" value="1" />
      </RequestHeader>
    <BatchItem>
      <Operation type="Enumeration" value="GetAttributes" />
      <RequestPayload>
        <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0" />
        <AttributeName type="TextString" value="Cryptographic   Usage Mask" />
        </RequestPayload>
      </BatchItem>
    </RequestMessage>
  <ResponseMessage>
    <ResponseHeader>
      <ProtocolVersion>
        <ProtocolVersionMajor type="Integer" value="1" />
        <ProtocolVersionMinor type="Integer" value="1" />
        </ProtocolVersion>
      <TimeStamp type="DateTime" value="2012-04-27T08:12:24+00:00" />
      <BatchCount type="Integer" value="1" />
      </ResponseHeader>
    <BatchItem>
      <Operation type="Enumeration" value="GetAttributes" />
      <ResultStatus type="Enumeration" value="Success" />
      <ResponsePayload>
        <Attribute>
          <AttributeName type="TextString" value="State" />
          <AttributeValue type="Enumeration" value="0x00000002" />
          </Attribute>
        </ResponsePayload>
      </BatchItem>
    </ResponseMessage>
</KmipTestCase>`
	v, err := ParseVector("SKLC-M-1-11", []byte(doc))
	require.NoError(t, err)
	assert.True(t, v.Recorded)
	assert.Equal(t, Version{1, 1}, v.Version)
	payload := v.Exchanges[0].Request.Child(kmip14.TagBatchItem).Child(kmip14.TagRequestPayload)
	assert.Equal(t, "Cryptographic Usage Mask", payload.Child(kmip14.TagAttributeName).Value, "runs of spaces collapsed")
	resp := v.Exchanges[0].Response
	ts := resp.Child(kmip14.TagResponseHeader).Child(kmip14.TagTimeStamp).Value
	assert.Equal(t, time.Date(2012, 4, 27, 8, 12, 24, 0, time.UTC), ts)
	state := resp.Child(kmip14.TagBatchItem).Child(kmip14.TagResponsePayload).Child(kmip14.TagAttribute).Child(kmip14.TagAttributeValue)
	assert.Equal(t, uint32(kmip14.StateActive), state.Value)
}

func TestParseVectorErrors(t *testing.T) {
	request := `<RequestMessage>` + header14 + `<BatchItem><Operation type="Enumeration" value="Query"/><RequestPayload/></BatchItem></RequestMessage>`
	response := `<ResponseMessage>` + respHeader14("$NOW") + `</ResponseMessage>`
	tests := []struct {
		name, file, doc, want string
	}{
		{"version of the name", "SKLC-M-1-20", `<KMIP>` + request + response + `</KMIP>`, "request of protocol version 1.4 in a file of version 2.0"},
		{"no version in the name", "SKLC", `<KMIP>` + request + response + `</KMIP>`, "does not end with a protocol version"},
		{"request without response", "SKLC-M-1-14", `<KMIP>` + request + `</KMIP>`, "request without a response"},
		{"two requests", "SKLC-M-1-14", `<KMIP>` + request + request + response + `</KMIP>`, "request without a response before it"},
		{"response first", "SKLC-M-1-14", `<KMIP>` + response + `</KMIP>`, "response without a request"},
		{"empty", "SKLC-M-1-14", `<KMIP></KMIP>`, "no request"},
		{"other root", "SKLC-M-1-14", `<Foo/>`, "root element is <Foo>"},
		{"unknown tag", "SKLC-M-1-14", `<KMIP><NoSuchTag type="Integer" value="1"/></KMIP>`, `unknown tag "NoSuchTag"`},
		{"unknown enumeration", "SKLC-M-1-14", `<KMIP><RequestMessage><ObjectType type="Enumeration" value="Banana"/></RequestMessage></KMIP>`, `unknown value "Banana"`},
		{"unknown mask bit", "SKLC-M-1-14", `<KMIP><RequestMessage><CryptographicUsageMask type="Integer" value="Encrypt Peel"/></RequestMessage></KMIP>`, `cannot read "Encrypt Peel"`},
		{"bad hex", "SKLC-M-1-14", `<KMIP><RequestMessage><KeyMaterial type="ByteString" value="0g"/></RequestMessage></KMIP>`, "byte string"},
		{"leaf with children", "SKLC-M-1-14", `<KMIP><RequestMessage><BatchCount type="Integer" value="1"><BatchCount type="Integer" value="1"/></BatchCount></RequestMessage></KMIP>`, "has children"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVector(tt.file, []byte(tt.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestEncodeMatchesGemalto encodes requests both with Encode and with
// gemalto's XML decoder (an independent reading of the same XML): the
// bytes must be the same.
func TestEncodeMatchesGemalto(t *testing.T) {
	docs := []string{
		`<RequestMessage>` + header14 + `<BatchItem><Operation type="Enumeration" value="Create"/>` +
			`<UniqueBatchItemID type="ByteString" value="0102"/><RequestPayload>` +
			`<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>` +
			`<Attribute><AttributeName type="TextString" value="Cryptographic Algorithm"/><AttributeValue type="Enumeration" value="AES"/></Attribute>` +
			`<Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/><AttributeValue type="Integer" value="Encrypt Decrypt"/></Attribute>` +
			`<Attribute><AttributeName type="TextString" value="Name"/><AttributeValue><NameValue type="TextString" value="odd length name"/>` +
			`<NameType type="Enumeration" value="UninterpretedTextString"/></AttributeValue></Attribute>` +
			`<Attribute><AttributeName type="TextString" value="Activation Date"/><AttributeValue type="DateTime" value="2013-01-10T23:36:01+00:00"/></Attribute>` +
			`</TemplateAttribute></RequestPayload></BatchItem></RequestMessage>`,
		`<RequestMessage>` + header14 + `<BatchItem><Operation type="Enumeration" value="Register"/><RequestPayload>` +
			`<ObjectType type="Enumeration" value="0x00000002"/><SymmetricKey><KeyBlock>` +
			`<KeyFormatType type="Enumeration" value="Raw"/><KeyValue><KeyMaterial type="ByteString" value="0123456789abcdef0123"/></KeyValue>` +
			`<CryptographicLength type="Integer" value="80"/></KeyBlock></SymmetricKey>` +
			`<LeaseTime type="Interval" value="3600"/><Fresh type="Boolean" value="true"/>` +
			`<Q type="BigInteger" value="00000000962eddcc369cba8ebb260ee6b6a126d9346e38c5"/>` +
			`<IterationCount type="LongInteger" value="-2"/>` +
			`</RequestPayload></BatchItem></RequestMessage>`,
	}
	for _, doc := range docs {
		n := parseXML(t, doc)
		mine, err := Encode(n)
		require.NoError(t, err)
		var theirs ttlv.TTLV
		require.NoError(t, xml.Unmarshal([]byte(doc), &theirs))
		assert.Equal(t, []byte(theirs), mine, "mine:\n%s\ntheirs:\n%s", ttlv.TTLV(mine), theirs)

		back, err := Decode(mine)
		require.NoError(t, err)
		again, err := Encode(back)
		require.NoError(t, err)
		assert.Equal(t, mine, again, "Decode then Encode gives the same bytes")
	}
}

func TestEncodeRefusesPlaceholders(t *testing.T) {
	n := parseXML(t, `<RequestPayload><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_3"/></RequestPayload>`)
	_, err := Encode(n)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "$UNIQUE_IDENTIFIER_3")
}

func TestDecodeRefusesBadTTLV(t *testing.T) {
	_, err := Decode([]byte{0x42, 0x00, 0x7B, 0x01, 0, 0, 0, 16})
	assert.Error(t, err, "truncated")
	ok := []byte{0x42, 0x00, 0x7B, 0x01, 0, 0, 0, 0}
	_, err = Decode(append(ok, 0, 0))
	assert.Error(t, err, "trailing bytes")
}

func TestXMLRendersAttributeNames(t *testing.T) {
	n := parseXML(t, `<Attribute><AttributeName type="TextString" value="State"/><AttributeValue type="Enumeration" value="0x00000002"/></Attribute>`)
	assert.Contains(t, n.XML(), `<AttributeValue type="Enumeration" value="Active"/>`)
	m := parseXML(t, `<Attributes><CryptographicUsageMask type="Integer" value="Decrypt Encrypt"/></Attributes>`)
	assert.Contains(t, m.XML(), `value="Encrypt Decrypt"`)
}

func TestFileNames(t *testing.T) {
	tests := []struct {
		name      string
		profile   string
		number    string
		mandatory bool
		claimed   bool
		group     string
	}{
		{"SKLC-M-1-14", "SKLC", "1", true, true, "SKLC"},
		{"SKFF-M-12-10", "SKFF", "12", true, true, "SKFF"},
		{"AKLC-O-1-21", "AKLC", "1", false, false, "AKLC"},
		{"CS-BC-M-GCM-1-14", "CS-BC", "GCM-1", true, true, "CS-BC"},
		{"CS-BC-O-1-14", "CS-BC", "1", false, false, "CS-BC"},
		{"SUITEB_128-M-1-13", "SUITEB_128", "1", true, false, "SUITEB"},
		{"MSGENC-HTTPS-M-1-21", "MSGENC-HTTPS", "1", true, false, "MSGENC"},
		{"BL-M-13-21", "BL", "13", true, true, "BL"},
	}
	for _, tt := range tests {
		f, err := ParseName(tt.name)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.profile, f.Profile, tt.name)
		assert.Equal(t, tt.number, f.Number, tt.name)
		assert.Equal(t, tt.mandatory, f.Mandatory, tt.name)
		assert.Equal(t, tt.claimed, f.Claimed(), tt.name)
		assert.Equal(t, tt.group, f.Group(), tt.name)
	}
	_, err := ParseName("README-14")
	assert.Error(t, err)
}

// vectorsDir is where the OASIS vectors are, if anywhere.
func vectorsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KMIP_VECTORS")
	if dir == "" {
		dir = "../shared/kmip-vectors"
	}
	if !filepath.IsAbs(dir) {
		// Relative to the repository root, two levels up.
		dir = filepath.Join("..", "..", dir)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("OASIS KMIP vectors not found at %s (set KMIP_VECTORS): skipping", dir)
	}
	return dir
}

// TestClaimedVectorsParse reads every file of the claimed profiles: each
// must parse, and each request that has no placeholder must encode as
// gemalto's XML decoder encodes it.
func TestClaimedVectorsParse(t *testing.T) {
	files, err := Discover(vectorsDir(t))
	require.NoError(t, err)
	claimed, compared := 0, 0
	for _, f := range files {
		if !f.Claimed() {
			continue
		}
		claimed++
		v, err := ReadVector(f.Path)
		if !assert.NoError(t, err) {
			continue
		}
		assert.Equal(t, f.Version, v.Version)
		assert.Equal(t, f.Folder == "v1.0", v.Recorded, f.Name)
		raw, err := os.ReadFile(f.Path)
		require.NoError(t, err)
		requests := gemaltoRequests(t, raw)
		require.Len(t, requests, len(v.Exchanges), f.Name)
		for i, ex := range v.Exchanges {
			placeholders := false
			ex.Request.Walk(func(n *Node) { placeholders = placeholders || n.Placeholder != "" })
			if placeholders || requests[i] == nil || v.Recorded {
				// gemalto neither fills placeholders nor collapses the
				// spaces of the 1.0 files.
				continue
			}
			mine, err := Encode(ex.Request)
			require.NoError(t, err)
			assert.Equal(t, []byte(requests[i]), mine, "%s request %d", f.Name, i+1)
			compared++
		}
	}
	t.Logf("%d claimed files parsed, %d requests encoded as gemalto does", claimed, compared)
	assert.Positive(t, claimed)
}

// gemaltoRequests decodes the Request Messages of a file with gemalto's
// XML decoder (nil where it cannot).
func gemaltoRequests(t *testing.T, data []byte) []ttlv.TTLV {
	t.Helper()
	var out []ttlv.TTLV
	d := xml.NewDecoder(strings.NewReader(string(data)))
	if _, err := nextStart(d); err != nil {
		t.Fatal(err)
	}
	for {
		start, err := nextStart(d)
		if err != nil {
			return out
		}
		if start.Name.Local != "RequestMessage" {
			require.NoError(t, d.Skip())
			continue
		}
		var msg ttlv.TTLV
		if err := d.DecodeElement(&msg, &start); err != nil {
			msg = nil
		}
		out = append(out, msg)
	}
}

func TestDiscoverOrdersAndDeduplicates(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"v1.3/XML/mandatory/TL-M-2-13.xml",
		"v1.3/XML/mandatory/TL-M-10-13.xml",
		"v1.3/XML/mandatory/AKLC-O-1-13.xml",
		"v1.3/XML/optional/AKLC-O-1-13.xml",
		"v1.0/XML/mandatory/SKLC-M-1-12.xml",
		"v1.0/XML/mandatory/SKLC-M-1-10.xml",
		"v1.3/XML/mandatory/notes.txt",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), nil, 0o600))
	}
	files, err := Discover(root)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"SKLC-M-1-10", "SKLC-M-1-12", "AKLC-O-1-13", "TL-M-2-13", "TL-M-10-13"}, names)
	assert.Equal(t, filepath.Join(root, "v1.3/XML/optional/AKLC-O-1-13.xml"), files[2].Path, "the copy in the optional folder")
	assert.Equal(t, "v1.0", files[0].Folder)

	_, err = Discover(filepath.Join(root, "absent"))
	assert.Error(t, err)
}
