package conformance

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
)

// Node is one KMIP item of a vector or of a real response: a structure
// with its children, or a leaf with its value.
type Node struct {
	Tag  ttlv.Tag
	Type ttlv.Type
	// Text is the value as the vector writes it ("$UNIQUE_IDENTIFIER_0",
	// "Encrypt Decrypt", "2012-04-27T08:12:24+00:00"); empty for the
	// nodes of a real response.
	Text string
	// Value is the value read: int32 (Integer), int64 (Long Integer),
	// []byte (Big Integer, two's complement, and Byte String), uint32
	// (Enumeration), bool, string, time.Time (Date-Time and Date-Time
	// Extended), time.Duration (Interval). Nil for a structure and for
	// a placeholder.
	Value any
	// Placeholder is the name of a placeholder value ("UNIQUE_IDENTIFIER_0",
	// "NOW-3600"), without its $; empty for a plain value.
	Placeholder string
	Children    []*Node
	// Line is where the node starts in its file (0 for real responses).
	Line int
}

// Name is the XML name of the node's tag.
func (n *Node) Name() string { return tagName(n.Tag) }

// Child returns the first child with tag, or nil.
func (n *Node) Child(tag ttlv.Tag) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// ChildrenOf returns the children with tag.
func (n *Node) ChildrenOf(tag ttlv.Tag) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, c := range n.Children {
		if c.Tag == tag {
			out = append(out, c)
		}
	}
	return out
}

// Walk calls f on n and every node under it, parents first.
func (n *Node) Walk(f func(*Node)) {
	f(n)
	for _, c := range n.Children {
		c.Walk(f)
	}
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	c := *n
	c.Children = make([]*Node, len(n.Children))
	for i, ch := range n.Children {
		c.Children[i] = ch.Clone()
	}
	return &c
}

// Version is a KMIP protocol version.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Exchange is one request of a vector and the response it expects.
type Exchange struct {
	Request, Response *Node
}

// Vector is one test case file: requests and the responses they expect,
// in order.
type Vector struct {
	// Name is the file name without .xml ("SKLC-M-1-14").
	Name      string
	Path      string
	Version   Version
	Exchanges []Exchange
	// Recorded is set for the 1.0 to 1.2 files (<KmipTestCase>): traces
	// of a real run, whose responses hold the times of that run where
	// later files write $NOW.
	Recorded bool
}

// ReadVector reads a vector file.
func ReadVector(path string) (*Vector, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".xml")
	v, err := ParseVector(name, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v.Path = path
	return v, nil
}

// ParseVector reads the XML of a vector: a <KMIP> (1.3 on) or
// <KmipTestCase> (1.0 to 1.2) root holding Request and Response Messages
// in turn. Its protocol version is the one its file name ends with (-10
// for 1.0 ... -21 for 2.1); every request must carry that version.
func ParseVector(name string, data []byte) (*Vector, error) {
	version, err := versionOfName(name)
	if err != nil {
		return nil, err
	}
	v := &Vector{Name: name, Version: version}
	d := xml.NewDecoder(bytes.NewReader(data))
	root, err := nextStart(d)
	if err != nil {
		return nil, fmt.Errorf("no root element: %w", err)
	}
	if root.Name.Local != "KMIP" && root.Name.Local != "KmipTestCase" {
		return nil, fmt.Errorf("root element is <%s>, want <KMIP> or <KmipTestCase>", root.Name.Local)
	}
	// The 1.0-1.2 files were made from documents: their text values
	// sometimes hold runs of spaces ("Cryptographic   Usage Mask").
	collapse := root.Name.Local == "KmipTestCase"
	v.Recorded = collapse
	var pending *Node
	for {
		start, err := nextStart(d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := d.InputPos()
		msg, err := parseElement(d, start, line, collapse)
		if err != nil {
			return nil, err
		}
		switch msg.Tag {
		case kmip14.TagRequestMessage:
			if pending != nil {
				return nil, fmt.Errorf("line %d: request without a response before it", msg.Line)
			}
			if err := checkVersion(msg, version); err != nil {
				return nil, fmt.Errorf("line %d: %w", msg.Line, err)
			}
			pending = msg
		case kmip14.TagResponseMessage:
			if pending == nil {
				return nil, fmt.Errorf("line %d: response without a request", msg.Line)
			}
			v.Exchanges = append(v.Exchanges, Exchange{Request: pending, Response: msg})
			pending = nil
		default:
			return nil, fmt.Errorf("line %d: <%s> is neither a RequestMessage nor a ResponseMessage", msg.Line, msg.Name())
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("line %d: request without a response", pending.Line)
	}
	if len(v.Exchanges) == 0 {
		return nil, errors.New("no request")
	}
	return v, nil
}

// versionOfName reads the protocol version from the end of a file name:
// SKLC-M-1-14 is 1.4.
func versionOfName(name string) (Version, error) {
	i := strings.LastIndexByte(name, '-')
	suffix := name[i+1:]
	if i < 0 || len(suffix) != 2 || suffix[0] < '0' || suffix[0] > '9' || suffix[1] < '0' || suffix[1] > '9' {
		return Version{}, fmt.Errorf("file name %q does not end with a protocol version (-14 for 1.4)", name)
	}
	return Version{int(suffix[0] - '0'), int(suffix[1] - '0')}, nil
}

// checkVersion requires the request's Protocol Version to be want.
func checkVersion(msg *Node, want Version) error {
	pv := msg.Child(kmip14.TagRequestHeader).Child(kmip14.TagProtocolVersion)
	major, minor := pv.Child(kmip14.TagProtocolVersionMajor), pv.Child(kmip14.TagProtocolVersionMinor)
	if major == nil || minor == nil {
		return errors.New("request without a protocol version")
	}
	got := Version{int(asInt(major.Value)), int(asInt(minor.Value))}
	if got != want {
		return fmt.Errorf("request of protocol version %s in a file of version %s", got, want)
	}
	return nil
}

func asInt(v any) int32 {
	i, _ := v.(int32)
	return i
}

// nextStart returns the next start element, skipping comments, text and
// end elements.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// parseElement reads the element that start opened, up to its end.
func parseElement(d *xml.Decoder, start xml.StartElement, line int, collapse bool) (*Node, error) {
	n := &Node{Line: line}
	var err error
	if n.Tag, err = lookupTag(start.Name.Local); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	n.Type = ttlv.TypeStructure
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "type":
			if n.Type, err = lookupType(a.Value); err != nil {
				return nil, fmt.Errorf("line %d: <%s>: %w", line, start.Name.Local, err)
			}
		case "value":
			n.Text = a.Value
		default:
			return nil, fmt.Errorf("line %d: <%s>: unexpected attribute %s", line, start.Name.Local, a.Name.Local)
		}
	}
	// enumTag is the tag whose names an Attribute Value's enumeration
	// or mask uses: the attribute its Attribute Name names.
	enumTag := ttlv.TagNone
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("line %d: <%s>: %w", line, start.Name.Local, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if n.Type != ttlv.TypeStructure {
				return nil, fmt.Errorf("line %d: <%s> of type %s has children", line, start.Name.Local, n.Type)
			}
			l, _ := d.InputPos()
			c, err := parseElement(d, t, l, collapse)
			if err != nil {
				return nil, err
			}
			if c.Tag == tagAttributeName {
				enumTag = attributeTag(c.Text)
			}
			n.Children = append(n.Children, c)
		case xml.EndElement:
			for _, c := range n.Children {
				if err := c.readValue(enumTag, collapse); err != nil {
					return nil, fmt.Errorf("line %d: <%s>: %w", c.Line, c.Name(), err)
				}
			}
			return n, nil
		}
	}
}

// readValue sets Value (or Placeholder) from Text. enumTag names the
// enumeration an Attribute Value takes its names from.
func (n *Node) readValue(enumTag ttlv.Tag, collapse bool) error {
	if n.Type == ttlv.TypeStructure {
		if n.Text != "" {
			return errors.New("a structure with a value")
		}
		return nil
	}
	if collapse && n.Type == ttlv.TypeTextString {
		n.Text = strings.Join(strings.Fields(n.Text), " ")
	}
	if p, ok := strings.CutPrefix(n.Text, "$"); ok && p != "" {
		n.Placeholder = p
		return nil
	}
	tag := n.Tag
	if tag == tagAttributeValue && enumTag != ttlv.TagNone {
		tag = enumTag
	}
	v, err := parseValue(tag, n.Type, n.Text)
	if err != nil {
		return err
	}
	n.Value = v
	return nil
}

// parseValue reads the text of a value of type tp; tag gives the names of
// enumerations and masks.
func parseValue(tag ttlv.Tag, tp ttlv.Type, s string) (any, error) {
	switch tp {
	case ttlv.TypeInteger:
		return parseInt(tag, s)
	case ttlv.TypeLongInteger:
		if strings.HasPrefix(s, "0x") {
			u, err := strconv.ParseUint(s[2:], 16, 64)
			return int64(u), err //nolint:gosec // two's complement, as written
		}
		return strconv.ParseInt(s, 10, 64)
	case ttlv.TypeBigInteger:
		b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
		if err != nil {
			return nil, fmt.Errorf("big integer %q: %w", s, err)
		}
		return b, nil
	case ttlv.TypeEnumeration:
		return parseEnum(tag, s)
	case ttlv.TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "1", "0x0000000000000001":
			return true, nil
		case "false", "0", "0x0000000000000000":
			return false, nil
		}
		return nil, fmt.Errorf("boolean %q", s)
	case ttlv.TypeTextString:
		return s, nil
	case ttlv.TypeByteString:
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("byte string %q: %w", s, err)
		}
		return b, nil
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		if strings.HasPrefix(s, "0x") {
			u, err := strconv.ParseUint(s[2:], 16, 64)
			if err != nil {
				return nil, fmt.Errorf("date-time %q: %w", s, err)
			}
			if tp == ttlv.TypeDateTime {
				return time.Unix(int64(u), 0).UTC(), nil //nolint:gosec
			}
			return time.UnixMicro(int64(u)).UTC(), nil //nolint:gosec
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("date-time %q: %w", s, err)
		}
		return t.UTC(), nil
	case ttlv.TypeInterval:
		if strings.HasPrefix(s, "0x") {
			u, err := strconv.ParseUint(s[2:], 16, 32)
			return time.Duration(u) * time.Second, err //nolint:gosec
		}
		u, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("interval %q: %w", s, err)
		}
		return time.Duration(u) * time.Second, nil //nolint:gosec
	}
	return nil, fmt.Errorf("type %s cannot hold a value", tp)
}

// XML renders n in the XML form of the vectors, indented: for logs and
// for comparing a real response with a vector by eye.
func (n *Node) XML() string {
	var sb strings.Builder
	n.writeXML(&sb, "", n.Tag)
	return sb.String()
}

// writeXML writes n; enumTag is the tag whose names its value takes (an
// Attribute Value's attribute).
func (n *Node) writeXML(sb *strings.Builder, indent string, enumTag ttlv.Tag) {
	if n.Type == ttlv.TypeStructure {
		if len(n.Children) == 0 {
			fmt.Fprintf(sb, "%s<%s/>\n", indent, n.Name())
			return
		}
		fmt.Fprintf(sb, "%s<%s>\n", indent, n.Name())
		attr := ttlv.TagNone
		for _, c := range n.Children {
			if name, ok := c.Value.(string); ok && c.Tag == tagAttributeName {
				attr = attributeTag(name)
			}
			tag := c.Tag
			if tag == tagAttributeValue && attr != ttlv.TagNone {
				tag = attr
			}
			c.writeXML(sb, indent+"  ", tag)
		}
		fmt.Fprintf(sb, "%s</%s>\n", indent, n.Name())
		return
	}
	var value string
	switch v := n.Value.(type) {
	case int32:
		value = fmt.Sprint(v)
		if ttlv.DefaultRegistry.IsBitmask(enumTag) {
			value = strings.ReplaceAll(ttlv.DefaultRegistry.FormatInt(enumTag, v), "|", " ")
		}
	case uint32:
		value = formatEnum(enumTag, v)
	case time.Time:
		value = v.UTC().Format(time.RFC3339)
	case []byte:
		value = hex.EncodeToString(v)
	case time.Duration:
		value = fmt.Sprint(int64(v / time.Second))
	case string:
		value = v
	default:
		value = showAs(n, enumTag)
	}
	if n.Placeholder != "" {
		value = "$" + n.Placeholder
	}
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(value))
	fmt.Fprintf(sb, "%s<%s type=%q value=\"%s\"/>\n", indent, n.Name(), n.Type.String(), esc.String())
}
