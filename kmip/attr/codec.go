package attr

import (
	"encoding/binary"
	"slices"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
)

// The stored attribute list is read on every operation that touches an
// object and written on every change, so it is encoded by hand: gemalto's
// reflection codec spent most of a Get's CPU here. The bytes are those of
// storedList through ttlv.Marshal (codec_test.go compares the two):
//
//	TemplateAttribute {
//	    Attribute { AttributeName (Text String), AttributeIndex (Integer),
//	                AttributeValue (the item as it is) }
//	    ...
//	}

// marshalFast is Marshal's encoder.
func (l List) marshalFast() []byte {
	n := ttlvfast.Header
	for _, a := range l {
		n += 3*ttlvfast.Header + len(a.Name) + 8 + 8 + len(a.Value)
	}
	b, top := ttlvfast.Begin(make([]byte, 0, n), kmip14.TagTemplateAttribute)
	for _, a := range l {
		var at int
		b, at = ttlvfast.Begin(b, kmip14.TagAttribute)
		b = ttlvfast.Text(b, kmip14.TagAttributeName, a.Name)
		b = ttlvfast.Int(b, kmip14.TagAttributeIndex, a.Index)
		b = append(b, a.Value...)
		b = ttlvfast.End(b, at)
	}
	return ttlvfast.End(b, top)
}

// standardNames lists the standard attribute names by length, so that
// decoding a stored list does not allocate a string per attribute name:
// a name is compared with the few of its length (cheaper than hashing it
// for a map, on the path of every record read).
var standardNames = func() (byLen [64][]string) {
	add := func(name string) {
		if len(name) < len(byLen) && !slices.Contains(byLen[len(name)], name) {
			byLen[len(name)] = append(byLen[len(name)], name)
		}
	}
	for _, r := range rules {
		add(r.Name)
	}
	add(ShortUniqueIdentifier)
	add(KeyFormatType)
	return byLen
}()

// internName is b as a string, shared for the standard names.
func internName(b []byte) string {
	if len(b) < len(standardNames) {
		for _, s := range standardNames[len(b)] {
			if s[len(s)-1] == b[len(b)-1] && string(b) == s {
				return s
			}
		}
	}
	return string(b)
}

// canonicalAttribute reads the fields of an Attribute (body is the
// structure's value) in the shape marshalFast writes: Attribute Name (a
// Text String), Attribute Index (an Integer), Attribute Value, in that
// order, and nothing after. ok is false for any other shape, which
// unmarshalFast's general loop then reads; for this one it gives what
// that loop gives, without splitting each field off as a ttlvfast.Item.
func canonicalAttribute(body []byte) (a Attribute, ok bool) {
	const h = ttlvfast.Header
	if len(body) < h || tagOf(body) != kmip14.TagAttributeName || ttlv.Type(body[3]) != ttlv.TypeTextString {
		return a, false
	}
	n := int(binary.BigEndian.Uint32(body[4:8]))
	at := h + (n+7)&^7 // the Attribute Index
	if at+2*h+h > len(body) {
		return a, false
	}
	index := body[at:]
	if tagOf(index) != kmip14.TagAttributeIndex || ttlv.Type(index[3]) != ttlv.TypeInteger || binary.BigEndian.Uint32(index[4:8]) != 4 {
		return a, false
	}
	value := body[at+2*h:]
	if tagOf(value) != kmip14.TagAttributeValue {
		return a, false
	}
	if h+paddedLen(value) != len(value) {
		return a, false
	}
	a.Name = internName(body[h : h+n])
	a.Index = int32(binary.BigEndian.Uint32(index[h:]))
	a.Value = ttlv.TTLV(value[:len(value):len(value)])
	return a, true
}

// paddedLen is the length of the value of the item b starts with,
// padding included, as ttlvfast.Next reads it (b holds a header).
func paddedLen(b []byte) int {
	n := int(binary.BigEndian.Uint32(b[4:8]))
	switch ttlv.Type(b[3]) {
	case ttlv.TypeTextString, ttlv.TypeByteString:
		return (n + 7) &^ 7
	case ttlv.TypeInteger, ttlv.TypeEnumeration, ttlv.TypeInterval:
		return 8
	}
	return n
}

func tagOf(b []byte) ttlv.Tag {
	return ttlv.Tag(uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]))
}

// unmarshalFast decodes a checked stored list. ok is false for a shape it
// does not know (a field of an unexpected type), which the reflection
// decoder then answers. Like that decoder it ignores unknown tags, keeps
// the last of repeated fields, and copies each Attribute Value (all of them in
// one buffer); unlike it the copy is the item alone, without the siblings
// that follow it.
func unmarshalFast(item ttlv.TTLV, copyValues bool) (List, bool) {
	if item.Type() != ttlv.TypeStructure {
		return nil, false
	}
	count := 0 // the Attributes the loop below reads, as it splits them
	for rest := []byte(item[ttlvfast.Header:]); len(rest) >= ttlvfast.Header; {
		full := paddedLen(rest)
		if len(rest)-ttlvfast.Header < full {
			break
		}
		if tagOf(rest) == kmip14.TagAttribute {
			count++
		}
		rest = rest[ttlvfast.Header+full:]
	}
	l := make(List, 0, count)
	// One copy of the whole list (unless the caller hands item over),
	// which every Attribute Value then aliases, capped so that appending
	// to one never writes into the next: one allocation instead of one
	// per attribute.
	owned := []byte(item[ttlvfast.Header:])
	if copyValues {
		owned = append([]byte(nil), owned...)
	}
	for rest := owned; ; {
		it, r, ok := ttlvfast.Next(rest)
		if !ok {
			break
		}
		rest = r
		if it.Tag != kmip14.TagAttribute {
			continue
		}
		if it.Type != ttlv.TypeStructure {
			return nil, false
		}
		if a, ok := canonicalAttribute(it.Value); ok {
			l = append(l, a)
			continue
		}
		var a Attribute
		for fields := it.Value; ; {
			f, r, ok := ttlvfast.Next(fields)
			if !ok {
				break
			}
			fields = r
			switch f.Tag {
			case kmip14.TagAttributeName:
				if f.Type != ttlv.TypeTextString {
					return nil, false
				}
				a.Name = internName(f.Value)
			case kmip14.TagAttributeIndex:
				if !f.Is(ttlv.TypeInteger) {
					return nil, false
				}
				a.Index = f.Int32()
			case kmip14.TagAttributeValue:
				a.Value = ttlv.TTLV(f.Raw[:len(f.Raw):len(f.Raw)])
			}
		}
		l = append(l, a)
	}
	return l, true
}
