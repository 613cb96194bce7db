package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
)

// ObjectType is a KMIP Object Type enumeration value.
type ObjectType = kmip14.ObjectType

// UniqueID is a Unique Identifier field of a request. In 1.x it is a text
// string or absent (absent means the ID Placeholder: the result of the
// previous batch item); 2.x adds an enumeration that names the placeholder
// explicitly (KMIP 2.1 section 4.48).
type UniqueID struct {
	raw ttlv.TTLV
}

// UnmarshalTTLV keeps the raw item; Resolve interprets it.
func (u *UniqueID) UnmarshalTTLV(_ *ttlv.Decoder, t ttlv.TTLV) error {
	u.raw = append(ttlv.TTLV(nil), t...)
	return nil
}

// Resolve returns the identifier the request names, using placeholder when
// the field is absent or is the ID Placeholder enumeration.
func (u UniqueID) Resolve(placeholder string) (string, error) {
	switch {
	case len(u.raw) == 0:
		if placeholder == "" {
			return "", Errorf(kmip20.ResultReasonMissingData, "no Unique Identifier and no ID Placeholder from a previous batch item")
		}
		return placeholder, nil
	case u.raw.Type() == ttlv.TypeTextString:
		return u.raw.ValueTextString(), nil
	case u.raw.Type() == ttlv.TypeEnumeration && u.raw.ValueEnumeration() == 1: // ID Placeholder
		if placeholder == "" {
			return "", Errorf(kmip20.ResultReasonMissingData, "ID Placeholder is empty")
		}
		return placeholder, nil
	default:
		return "", Errorf(kmip20.ResultReasonInvalidField, "Unique Identifier of type %s is not supported", u.raw.Type())
	}
}
