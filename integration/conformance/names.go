package conformance

import (
	"fmt"
	"strings"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
)

// The vectors name tags, enumeration values and mask bits as the KMIP
// XML encoding does (KMIP Profiles 2.1, 5.4): by the normalized name of
// the specification ("CryptographicUsageMask", "SymmetricKey") or in hex
// ("0x42000A"). Names are looked up in gemalto's registry (1.4 names, and
// the 2.0 additions that importing kmip20 registers), then in the small
// tables below for what KMIP 2.1 added and gemalto lacks. The registry is
// only read: nothing is registered in it.

// extraTags are the KMIP 2.1 tags (KMIP 2.1, 9.1.3.1) that the vectors
// use and gemalto's registry lacks. None so far: every name of the
// claimed files is in the registry (TestClaimedVectorsParse reads them
// all); only the PKCS#11 profile's function names are not, and it is not
// claimed.
var extraTags = map[string]ttlv.Tag{}

// extraEnums are enumeration values that KMIP 2.1 added to enumerations
// gemalto knows, by the tag they are the value of (none so far, as
// above).
var extraEnums = map[ttlv.Tag]map[string]uint32{}

// tagNames maps the extra tags back to their names, for messages.
var tagNames = func() map[ttlv.Tag]string {
	m := make(map[ttlv.Tag]string, len(extraTags))
	for name, tag := range extraTags {
		m[tag] = name
	}
	return m
}()

// lookupTag returns the tag an element name (or a hex tag) stands for.
func lookupTag(name string) (ttlv.Tag, error) {
	if tag, ok := extraTags[name]; ok {
		return tag, nil
	}
	tag, err := ttlv.DefaultRegistry.ParseTag(name)
	if err != nil {
		return 0, fmt.Errorf("unknown tag %q", name)
	}
	return tag, nil
}

// tagName is the XML element name of a tag: its normalized name, or
// its hex form when no name is known.
func tagName(tag ttlv.Tag) string {
	if name, ok := tagNames[tag]; ok {
		return name
	}
	return ttlv.DefaultRegistry.FormatTag(tag)
}

// lookupType returns the TTLV type a type attribute names.
func lookupType(name string) (ttlv.Type, error) {
	tp, err := ttlv.DefaultRegistry.ParseType(name)
	if err != nil {
		return 0, fmt.Errorf("unknown type %q", name)
	}
	return tp, nil
}

// parseEnum returns the value of an enumeration written by name (as the
// value of tag) or in hex or decimal. Attribute Reference (2.x) takes a
// tag name as its value.
func parseEnum(tag ttlv.Tag, s string) (uint32, error) {
	if tag == kmip20.TagAttributeReference {
		if t, err := lookupTag(s); err == nil {
			return uint32(t), nil
		}
	}
	if v, ok := extraEnums[tag][s]; ok {
		return v, nil
	}
	v, err := ttlv.DefaultRegistry.ParseEnum(tag, s)
	if err != nil {
		return 0, fmt.Errorf("enumeration %s: unknown value %q", tagName(tag), s)
	}
	return v, nil
}

// parseInt returns the value of an Integer: a number, a hex value, or
// mask bits by name separated by spaces or bars ("Encrypt Decrypt").
func parseInt(tag ttlv.Tag, s string) (int32, error) {
	s = strings.TrimSpace(s)
	v, err := ttlv.DefaultRegistry.ParseInt(tag, strings.Join(strings.Fields(s), "|"))
	if err != nil {
		return 0, fmt.Errorf("integer %s: cannot read %q", tagName(tag), s)
	}
	return v, nil
}

// formatEnum names an enumeration value of tag for messages.
func formatEnum(tag ttlv.Tag, v uint32) string {
	if tag == kmip20.TagAttributeReference {
		return tagName(ttlv.Tag(v))
	}
	for name, ev := range extraEnums[tag] {
		if ev == v {
			return name
		}
	}
	return ttlv.DefaultRegistry.FormatEnum(tag, v)
}

// formatInt shows an Integer for messages: masks by their bit names and
// in hex, other integers in decimal.
func formatInt(tag ttlv.Tag, v int32) string {
	if ttlv.DefaultRegistry.IsBitmask(tag) {
		return fmt.Sprintf("%s (0x%08X)", ttlv.DefaultRegistry.FormatInt(tag, v), uint32(v))
	}
	return fmt.Sprintf("%d", v)
}

// attributeTag returns the tag of the attribute an Attribute Name names
// ("Cryptographic Usage Mask" -> CryptographicUsageMask), or TagNone for
// custom attributes: it gives the Attribute Value beside it the names of
// its enumeration or mask.
func attributeTag(name string) ttlv.Tag {
	tag, err := lookupTag(ttlv.NormalizeName(name))
	if err != nil {
		return ttlv.TagNone
	}
	return tag
}

// Tags the runner and the comparer treat specially.
var (
	tagAttributeValue = kmip14.TagAttributeValue
	tagAttributeName  = kmip14.TagAttributeName
)
