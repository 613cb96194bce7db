package message

import (
	"fmt"
	"strings"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	tf "github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
)

// attributeV1 is the 1.x Attribute structure (KMIP 1.4 section 2.1.1); in
// 2.x the same structure with a Vendor Identification carries vendor
// attributes (KMIP 2.1 section 2.1.1).
type attributeV1 struct {
	VendorIdentification string `ttlv:",omitempty"`
	AttributeName        string
	AttributeIndex       int32 `ttlv:",omitempty"`
	AttributeValue       ttlv.TTLV
}

// DecodeAttributes reads the attributes a client sent, in either form:
// a 1.x Template-Attribute (or any structure of Attribute items) or a 2.x
// Attributes structure whose children are tagged by attribute. A nil raw
// gives an empty list.
func DecodeAttributes(raw ttlv.TTLV) (attr.List, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if raw.Type() != ttlv.TypeStructure {
		return nil, Errorf(kmip20.ResultReasonInvalidField, "%s is a %s, not a structure of attributes", raw.Tag(), raw.Type())
	}
	var list attr.List
	for _, c := range attr.Children(raw) {
		switch tag := c.Tag(); {
		case tag == kmip14.TagAttribute:
			var a attributeV1
			if err := Unmarshal(c, &a); err != nil {
				return nil, Errorf(kmip20.ResultReasonInvalidField, "attribute: %v", err)
			}
			if a.AttributeName == "" || len(a.AttributeValue) == 0 {
				return nil, Errorf(kmip20.ResultReasonInvalidField, "attribute without a name or a value")
			}
			name := a.AttributeName
			if a.VendorIdentification != "" {
				name = a.VendorIdentification + "-" + name
			}
			list = append(list, attr.Attribute{Name: name, Index: a.AttributeIndex, Value: a.AttributeValue})
		case tag == kmip14.TagName && raw.Tag() == kmip14.TagTemplateAttribute:
			// A template reference: ops resolves them before decoding.
			return nil, Errorf(kmip20.ResultReasonInvalidField, "a template reference must name a registered Template")
		default:
			// The rules table knows every standard attribute of 1.0-2.1
			// with its standard spelling; the codec's registry lacks the
			// 2.1 additions and misspells one.
			var name string
			if r, ok := attr.ByTag(tag); ok {
				name = r.Name
			} else if n, ok := ttlv.DefaultRegistry.Tags().CanonicalName(uint32(tag)); ok {
				name = attr.Canonical(n)
			} else {
				return nil, Errorf(kmip20.ResultReasonInvalidField, "unknown attribute tag %s", tag)
			}
			list = append(list, attr.Attribute{Name: name, Index: indexOf(list, name), Value: attr.Retag(c, kmip14.TagAttributeValue)})
		}
	}
	return list, nil
}

func indexOf(l attr.List, name string) int32 {
	return int32(len(l.All(name)))
}

// EncodeAttributes renders attributes in the form version v expects,
// tagged container: for 1.x a structure of Attribute items (a
// Template-Attribute, or the payload itself for GetAttributes), for 2.x
// an Attributes-style structure whose children carry the attribute tags.
// Attributes that version v lacks (a 2.x-only attribute for a 1.x client,
// Fresh for a 1.0 one, a vendor attribute 1.x cannot name) are left out;
// see EncodeAttribute.
func EncodeAttributes(v Version, container ttlv.Tag, list attr.List) (ttlv.TTLV, error) {
	items := make([]ttlv.TTLV, 0, len(list))
	for _, a := range list {
		item, ok, err := EncodeAttribute(v, a)
		if err != nil {
			return nil, err
		}
		if ok {
			items = append(items, item)
		}
	}
	return attr.Structure(container, items...), nil
}

// EncodeAttribute renders one attribute for version v: a 1.x Attribute
// structure (its index only when not 0), a 2.x item tagged by the
// attribute's tag, or a 2.x vendor Attribute for a custom one. ok is false
// when version v does not have the attribute (attr.Rule.In), which callers
// leave out of their answer; the value itself is shaped for v (KMIP 1.0's
// Digest has no Key Format Type).
func EncodeAttribute(v Version, a attr.Attribute) (item ttlv.TTLV, ok bool, err error) {
	r, known := attr.Lookup(a.Name)
	if !known || !r.In(attr.Version(v)) {
		return nil, false, nil
	}
	a.Name = r.Name
	a.Value = valueFor(v, r, a.Value)
	if v.AtLeast(V2_0) && !r.Custom {
		return attr.Retag(a.Value, r.Tag), true, nil
	}
	item, err = encodeAttribute(v, a)
	if err != nil {
		return nil, false, err
	}
	return item, true, nil
}

// memberSince lists structure members that appeared after their
// attribute: a client of an older version gets the value without them.
var memberSince = map[string]map[ttlv.Tag]Version{
	attr.Digest: {kmip14.TagKeyFormatType: V1_1},
}

// valueFor drops from a structure value the members version v lacks.
func valueFor(v Version, r attr.Rule, value ttlv.TTLV) ttlv.TTLV {
	since, ok := memberSince[r.Name]
	if !ok || len(value) < 8 || value.Type() != ttlv.TypeStructure {
		return value
	}
	var keep []ttlv.TTLV
	dropped := false
	for _, c := range attr.Children(value) {
		if s, listed := since[c.Tag()]; listed && !v.AtLeast(s) {
			dropped = true
			continue
		}
		keep = append(keep, c)
	}
	if !dropped {
		return value
	}
	return attr.Structure(value.Tag(), keep...)
}

func encodeAttribute(v Version, a attr.Attribute) (ttlv.TTLV, error) {
	if v.AtLeast(V2_0) {
		if tag, ok := ttlv.DefaultRegistry.Tags().Value(a.Name); ok && !strings.Contains(a.Name, "-") {
			return attr.Retag(a.Value, ttlv.Tag(tag)), nil
		}
		vendor, name, ok := strings.Cut(a.Name, "-")
		if !ok {
			return nil, fmt.Errorf("attribute %q has no 2.x form", a.Name)
		}
		// A 2.x vendor Attribute: Vendor Identification, Attribute Name,
		// Attribute Value (written by hand, as for 1.x below).
		b, s := tf.Begin(nil, kmip14.TagAttribute)
		b = tf.Text(b, kmip14.TagVendorIdentification, vendor)
		b = tf.Text(b, kmip14.TagAttributeName, name)
		b = append(b, a.Value...)
		return tf.End(b, s), nil
	}
	// A 1.x Attribute: Attribute Name, Attribute Index when not 0,
	// Attribute Value (the value item as it is). Written by hand: every
	// attribute of a Get Attributes or Add Attribute answer is one, and
	// gemalto's reflection encoder analyses the type on every call. The
	// bytes are those of ttlv.Marshal (TestEncodeAttributeMatchesReflection).
	b, s := tf.Begin(make([]byte, 0, 48+len(a.Name)+len(a.Value)), kmip14.TagAttribute)
	b = tf.Text(b, kmip14.TagAttributeName, a.Name)
	if a.Index != 0 {
		b = tf.Int(b, kmip14.TagAttributeIndex, a.Index)
	}
	b = append(b, a.Value...)
	return tf.End(b, s), nil
}
