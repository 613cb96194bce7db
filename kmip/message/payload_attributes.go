package message

import (
	"strings"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// GetAttributesRequest is the Get Attributes payload (KMIP 1.4 section
// 4.12, 2.1 section 6.1): 1.x clients name attributes, 2.x clients
// send Attribute References; none means every attribute.
type GetAttributesRequest struct {
	UniqueIdentifier   UniqueID
	AttributeName      []string
	AttributeReference []ttlv.TTLV
}

// GetAttributesResponse answers Get Attributes: 1.x puts Attribute items
// in the payload, 2.x one Attributes structure.
type GetAttributesResponse struct {
	UniqueIdentifier string
	Attribute        []ttlv.TTLV `ttlv:",omitempty"`
	Attributes       ttlv.TTLV   `ttlv:",omitempty"`
}

// GetAttributeListRequest is the Get Attribute List payload (KMIP 1.4
// section 4.13, 2.1 section 6.1).
type GetAttributeListRequest struct {
	UniqueIdentifier UniqueID
}

// GetAttributeListResponse lists an object's attributes: by name in 1.x,
// by Attribute Reference in 2.x.
type GetAttributeListResponse struct {
	UniqueIdentifier   string
	AttributeName      []string    `ttlv:",omitempty"`
	AttributeReference []ttlv.TTLV `ttlv:",omitempty"`
}

// AddAttributeRequest is the Add Attribute payload (KMIP 1.4 section 4.14,
// 2.1 section 6.1): a 1.x Attribute, or a 2.x New Attribute.
type AddAttributeRequest struct {
	UniqueIdentifier UniqueID
	Attribute        ttlv.TTLV
	NewAttribute     ttlv.TTLV
}

// ModifyAttributeRequest is the Modify Attribute payload (KMIP 1.4 section
// 4.15, 2.1 section 6.1): a 1.x Attribute (name, index, new value), or
// a 2.x New Attribute with the Current Attribute it replaces.
type ModifyAttributeRequest struct {
	UniqueIdentifier UniqueID
	Attribute        ttlv.TTLV
	CurrentAttribute ttlv.TTLV
	NewAttribute     ttlv.TTLV
}

// DeleteAttributeRequest is the Delete Attribute payload (KMIP 1.4
// section 4.16, 2.1 section 6.1): a 1.x name and index, or a 2.x
// Current Attribute (one instance) or Attribute Reference.
type DeleteAttributeRequest struct {
	UniqueIdentifier   UniqueID
	AttributeName      string
	AttributeIndex     int32
	CurrentAttribute   ttlv.TTLV
	AttributeReference ttlv.TTLV
}

// SetAttributeRequest is the Set Attribute payload (KMIP 2.1 section
// 6.1.52).
type SetAttributeRequest struct {
	UniqueIdentifier UniqueID
	NewAttribute     ttlv.TTLV
}

// AttributeResponse answers Add, Modify and Delete Attribute: 1.x returns
// the attribute instance concerned, 2.x only the identifier.
type AttributeResponse struct {
	UniqueIdentifier string
	Attribute        ttlv.TTLV `ttlv:",omitempty"`
}

// Trim returns the item at the start of t: decoded ttlv.TTLV fields may
// run on into the items that follow them.
func Trim(t ttlv.TTLV) ttlv.TTLV {
	if len(t) < 8 || t.FullLen() > len(t) {
		return t
	}
	return t[:t.FullLen()]
}

// DecodeAttribute reads one attribute item as a client sends it: a 1.x
// Attribute structure (Attribute Name, Attribute Index, Attribute Value),
// a 2.x vendor Attribute (with Vendor Identification: the attribute
// "Vendor-Name"), or a 2.x attribute tagged by its own tag. Standard names
// come back in their canonical spelling; the value is tagged Attribute
// Value.
func DecodeAttribute(item ttlv.TTLV) (attr.Attribute, error) {
	item = Trim(item)
	if len(item) < 8 {
		return attr.Attribute{}, Errorf(kmip20.ResultReasonInvalidField, "missing attribute")
	}
	if item.Tag() != kmip14.TagAttribute {
		r, ok := attr.ByTag(item.Tag())
		if !ok {
			return attr.Attribute{}, Errorf(kmip20.ResultReasonUnsupportedAttribute, "%s is not an attribute", item.Tag())
		}
		return attr.Attribute{Name: r.Name, Value: attr.Retag(item, kmip14.TagAttributeValue)}, nil
	}
	if item.Type() != ttlv.TypeStructure {
		return attr.Attribute{}, Errorf(kmip20.ResultReasonInvalidField, "Attribute is a %s, want a structure", item.Type())
	}
	var a attributeV1
	if err := Unmarshal(item, &a); err != nil { // by hand for the usual shapes
		return attr.Attribute{}, Errorf(kmip20.ResultReasonInvalidField, "attribute: %v", err)
	}
	value := Trim(a.AttributeValue)
	if a.AttributeName == "" || len(value) < 8 {
		return attr.Attribute{}, Errorf(kmip20.ResultReasonInvalidField, "attribute without a name or a value")
	}
	name := attr.Canonical(a.AttributeName)
	if a.VendorIdentification != "" {
		name = a.VendorIdentification + "-" + a.AttributeName
	}
	return attr.Attribute{Name: name, Index: a.AttributeIndex, Value: append(ttlv.TTLV(nil), value...)}, nil
}

// DecodeAttributeIn reads the one attribute a 2.x New Attribute or Current
// Attribute structure holds.
func DecodeAttributeIn(container ttlv.TTLV) (attr.Attribute, error) {
	container = Trim(container)
	if len(container) < 8 || container.Type() != ttlv.TypeStructure {
		return attr.Attribute{}, Errorf(kmip20.ResultReasonInvalidField, "missing attribute")
	}
	children := attr.Children(container)
	if len(children) != 1 {
		return attr.Attribute{}, Errorf(kmip20.ResultReasonInvalidField, "%s holds %d attributes, want one", container.Tag(), len(children))
	}
	return DecodeAttribute(children[0])
}

// vendorReference is a 2.x Attribute Reference to a vendor attribute.
type vendorReference struct {
	TTLVTag              struct{} `ttlv:"AttributeReference"`
	VendorIdentification string
	AttributeName        string
}

// DecodeAttributeReference reads a 2.x Attribute Reference (KMIP 2.1
// section 7): an Enumeration holding a standard attribute's tag, or a
// structure naming a vendor attribute. It returns the attribute's name.
func DecodeAttributeReference(item ttlv.TTLV) (string, error) {
	item = Trim(item)
	if len(item) < 8 {
		return "", Errorf(kmip20.ResultReasonInvalidField, "missing Attribute Reference")
	}
	switch item.Type() {
	case ttlv.TypeEnumeration:
		tag := ttlv.Tag(item.ValueEnumeration())
		r, ok := attr.ByTag(tag)
		if !ok {
			return "", Errorf(kmip20.ResultReasonUnsupportedAttribute, "%s is not an attribute", tag)
		}
		return r.Name, nil
	case ttlv.TypeStructure:
		var ref vendorReference
		if err := wire.Decode(item, &ref); err != nil {
			return "", Errorf(kmip20.ResultReasonInvalidField, "Attribute Reference: %v", err)
		}
		if ref.AttributeName == "" {
			return "", Errorf(kmip20.ResultReasonInvalidField, "Attribute Reference without an attribute name")
		}
		if ref.VendorIdentification == "" {
			// PyKMIP names standard attributes this way: an empty vendor and
			// the attribute's name.
			r, ok := attr.Lookup(ref.AttributeName)
			if !ok || r.Custom {
				return "", Errorf(kmip20.ResultReasonUnsupportedAttribute, "%q is not a standard attribute", ref.AttributeName)
			}
			return r.Name, nil
		}
		return ref.VendorIdentification + "-" + ref.AttributeName, nil
	default:
		return "", Errorf(kmip20.ResultReasonInvalidField, "Attribute Reference is a %s", item.Type())
	}
}

// EncodeAttributeReference renders a 2.x Attribute Reference to the named
// attribute.
func EncodeAttributeReference(name string) (ttlv.TTLV, error) {
	r, ok := attr.Lookup(name)
	if !ok {
		return nil, Errorf(kmip20.ResultReasonUnsupportedAttribute, "attribute %q has no 2.x form", name)
	}
	if !r.Custom {
		return attr.Retag(attr.Enum(uint32(r.Tag)), kmip20.TagAttributeReference), nil
	}
	vendor, n, _ := strings.Cut(name, "-")
	return Marshal(vendorReference{VendorIdentification: vendor, AttributeName: n})
}
