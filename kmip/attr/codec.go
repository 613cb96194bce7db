package attr

import (
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

// standardNames maps each standard attribute name to itself, so that
// decoding a stored list does not allocate a string per attribute name.
var standardNames = func() map[string]string {
	m := make(map[string]string, len(rules)+2)
	for _, r := range rules {
		m[r.Name] = r.Name
	}
	m[ShortUniqueIdentifier] = ShortUniqueIdentifier
	m[KeyFormatType] = KeyFormatType
	return m
}()

// internName is b as a string, shared for the standard names (the map
// lookup of string(b) does not allocate).
func internName(b []byte) string {
	if s, ok := standardNames[string(b)]; ok {
		return s
	}
	return string(b)
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
	count := 0
	for rest := []byte(item[ttlvfast.Header:]); ; {
		it, r, ok := ttlvfast.Next(rest)
		if !ok {
			break
		}
		if it.Tag == kmip14.TagAttribute {
			count++
		}
		rest = r
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
