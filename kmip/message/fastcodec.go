package message

import (
	"slices"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	tf "github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
)

// Hand-written TTLV for the hot paths: the request envelope, the
// Discover Versions, Query, Get, Create, Create Key Pair, Register,
// Re-key, Re-key Key Pair, Locate, Get Attributes, Get Attribute List,
// attribute edit, Activate, Revoke, Destroy, Archive, Recover and RNG
// Retrieve payloads
// and the key objects a Register carries,
// and the response envelope with the answers of those and of the rest of
// vCenter's conversation (Discover Versions, Query, Get Attributes, the
// attribute edits) and the lifecycle operations; fastcrypto.go does the
// same for the cryptographic operations. gemalto's reflection codec recomputes each type's field table
// on every call (and builds errors with stack traces while doing so),
// which cost most of a Get's CPU.
//
// Decoders accept what the reflection decoder reads the same way: the
// fields in any order, unknown tags ignored, the last of a repeated field
// kept. A field of an unexpected type (which the reflection decoder may
// convert, or refuse with its own error) makes them report "not handled",
// and Unmarshal then runs the reflection decoder on the untouched value.
// One difference: a raw (ttlv.TTLV) field is the item alone, where the
// reflection decoder also copies the siblings that follow it.
//
// Encoders write exactly the bytes ttlv.Marshal writes (fastcodec_test.go
// compares them over the OASIS vectors); a response with a payload they do
// not know goes through ttlv.Marshal whole.

// fastDecoder is a value with a hand-written decoder. decodeFast reads a
// checked item and reports whether it handled it; when it did not, the
// value is unchanged.
type fastDecoder interface {
	decodeFast(item ttlv.TTLV) bool
}

// fields calls f on each child of a checked structure item; f returns
// false to stop (not handled), which fields returns.
func fields(item ttlv.TTLV, f func(tf.Item) bool) bool {
	if item.Type() != ttlv.TypeStructure {
		return false
	}
	for rest := []byte(item[tf.Header:]); ; {
		it, r, ok := tf.Next(rest)
		if !ok {
			return true
		}
		if !f(it) {
			return false
		}
		rest = r
	}
}

// Readers of one field each: false when the item has another type.
func readInt(it tf.Item, v *int32) bool {
	if !it.Is(ttlv.TypeInteger) {
		return false
	}
	*v = it.Int32()
	return true
}

func readEnum[T ~uint32](it tf.Item, v *T) bool {
	if !it.Is(ttlv.TypeEnumeration) {
		return false
	}
	*v = T(it.Uint32())
	return true
}

func readBool(it tf.Item, v *bool) bool {
	if !it.Is(ttlv.TypeBoolean) {
		return false
	}
	*v = it.Int64() != 0
	return true
}

func readText(it tf.Item, v *string) bool {
	if it.Type != ttlv.TypeTextString {
		return false
	}
	*v = string(it.Value)
	return true
}

// readBytes aliases the message, as the reflection decoder does (nil for
// an empty value).
func readBytes(it tf.Item, v *[]byte) bool {
	if it.Type != ttlv.TypeByteString {
		return false
	}
	*v = nil
	if len(it.Value) > 0 {
		*v = it.Value
	}
	return true
}

func decodeVersionFast(v *Version, item ttlv.TTLV) bool {
	out := *v
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagProtocolVersionMajor:
			return readInt(it, &out.Major)
		case kmip14.TagProtocolVersionMinor:
			return readInt(it, &out.Minor)
		}
		return true
	})
	if ok {
		*v = out
	}
	return ok
}

func (h *RequestHeader) decodeFast(item ttlv.TTLV) bool {
	out := *h
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagProtocolVersion:
			return decodeVersionFast(&out.ProtocolVersion, it.Raw)
		case kmip14.TagMaximumResponseSize:
			return readInt(it, &out.MaximumResponseSize)
		case kmip14.TagClientCorrelationValue:
			return readText(it, &out.ClientCorrelationValue)
		case kmip14.TagServerCorrelationValue:
			return readText(it, &out.ServerCorrelationValue)
		case kmip14.TagAsynchronousIndicator:
			return readBool(it, &out.AsynchronousIndicator)
		case kmip14.TagAttestationCapableIndicator:
			return readBool(it, &out.AttestationCapableIndicator)
		case kmip14.TagAuthentication:
			out.Authentication = it.Copy()
		case kmip14.TagBatchErrorContinuationOption:
			return readEnum(it, &out.BatchErrorContinuationOption)
		case kmip14.TagBatchOrderOption:
			return readBool(it, &out.BatchOrderOption)
		case kmip14.TagTimeStamp:
			if !it.Is(ttlv.TypeDateTime) && !it.Is(ttlv.TypeDateTimeExtended) {
				return false
			}
			out.TimeStamp = it.Time()
		case kmip14.TagBatchCount:
			return readInt(it, &out.BatchCount)
		}
		return true
	})
	if ok {
		*h = out
	}
	return ok
}

func (b *RequestBatchItem) decodeFast(item ttlv.TTLV) bool {
	out := *b
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagOperation:
			return readEnum(it, &out.Operation)
		case kmip20.TagEphemeral:
			return readBool(it, &out.Ephemeral)
		case kmip14.TagUniqueBatchItemID:
			return readBytes(it, &out.UniqueBatchItemID)
		case kmip14.TagRequestPayload:
			out.RequestPayload = it.Copy()
		case kmip14.TagMessageExtension:
			out.MessageExtension = it.Copy()
		}
		return true
	})
	if ok {
		*b = out
	}
	return ok
}

func (r *Request) decodeFast(item ttlv.TTLV) bool {
	out := *r
	out.Items = append([]RequestBatchItem(nil), r.Items...)
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagRequestHeader:
			return out.Header.decodeFast(it.Raw)
		case kmip14.TagBatchItem:
			var bi RequestBatchItem
			if !bi.decodeFast(it.Raw) {
				return false
			}
			out.Items = append(out.Items, bi)
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (g *GetRequest) decodeFast(item ttlv.TTLV) bool {
	out := *g
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagKeyFormatType:
			return readEnum(it, &out.KeyFormatType)
		case kmip14.TagKeyWrapType:
			return readEnum(it, &out.KeyWrapType)
		case kmip14.TagKeyCompressionType:
			return readEnum(it, &out.KeyCompressionType)
		case kmip14.TagKeyWrappingSpecification:
			out.KeyWrappingSpecification = it.Copy()
		}
		return true
	})
	if ok {
		*g = out
	}
	return ok
}

func (c *CreateRequest) decodeFast(item ttlv.TTLV) bool {
	out := *c
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagObjectType:
			return readEnum(it, &out.ObjectType)
		case kmip14.TagTemplateAttribute:
			out.TemplateAttribute = it.Copy()
		case kmip20.TagAttributes:
			out.Attributes = it.Copy()
		}
		return true
	})
	if ok {
		*c = out
	}
	return ok
}

func (r *RegisterRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagObjectType:
			return readEnum(it, &out.ObjectType)
		case kmip14.TagTemplateAttribute:
			out.TemplateAttribute = it.Copy()
		case kmip20.TagAttributes:
			out.Attributes = it.Copy()
		case kmip14.TagCertificate:
			out.Certificate = it.Copy()
		case kmip14.TagSymmetricKey:
			out.SymmetricKey = it.Copy()
		case kmip14.TagPublicKey:
			out.PublicKey = it.Copy()
		case kmip14.TagPrivateKey:
			out.PrivateKey = it.Copy()
		case kmip14.TagSplitKey:
			out.SplitKey = it.Copy()
		case kmip14.TagTemplate:
			out.Template = it.Copy()
		case kmip14.TagSecretData:
			out.SecretData = it.Copy()
		case kmip14.TagOpaqueObject:
			out.OpaqueObject = it.Copy()
		case kmip14.TagPGPKey:
			out.PGPKey = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (k *KeyBlock) decodeFast(item ttlv.TTLV) bool {
	out := *k
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagKeyFormatType:
			return readEnum(it, &out.KeyFormatType)
		case kmip14.TagKeyCompressionType:
			return readEnum(it, &out.KeyCompressionType)
		case kmip14.TagKeyValue:
			out.KeyValue = it.Copy()
		case kmip14.TagCryptographicAlgorithm:
			return readEnum(it, &out.CryptographicAlgorithm)
		case kmip14.TagCryptographicLength:
			return readInt(it, &out.CryptographicLength)
		case kmip14.TagKeyWrappingData:
			out.KeyWrappingData = it.Copy()
		}
		return true
	})
	if ok {
		*k = out
	}
	return ok
}

// decodeKeyBlockOnly decodes an object whose one field is its Key Block
// (Symmetric Key, Public Key, Private Key) into kb.
func decodeKeyBlockOnly(item ttlv.TTLV, kb *KeyBlock) bool {
	out := *kb
	ok := fields(item, func(it tf.Item) bool {
		if it.Tag == kmip14.TagKeyBlock {
			return keyBlockField(it, &out)
		}
		return true
	})
	if ok {
		*kb = out
	}
	return ok
}

// decodeUIDOnly decodes a payload whose one field is its Unique
// Identifier (Activate, Destroy, Get Attribute List) into u.
func decodeUIDOnly(item ttlv.TTLV, u *UniqueID) bool {
	out := *u
	ok := fields(item, func(it tf.Item) bool {
		if it.Tag == kmip14.TagUniqueIdentifier {
			out = UniqueID{raw: it.Copy()}
		}
		return true
	})
	if ok {
		*u = out
	}
	return ok
}

// keyBlockField reads a Key Block field into kb.
func keyBlockField(it tf.Item, kb *KeyBlock) bool {
	var b KeyBlock
	if !b.decodeFast(it.Raw) {
		return false
	}
	*kb = b
	return true
}

func (o *SymmetricKey) decodeFast(item ttlv.TTLV) bool { return decodeKeyBlockOnly(item, &o.KeyBlock) }

func (o *PublicKey) decodeFast(item ttlv.TTLV) bool { return decodeKeyBlockOnly(item, &o.KeyBlock) }

func (o *PrivateKey) decodeFast(item ttlv.TTLV) bool { return decodeKeyBlockOnly(item, &o.KeyBlock) }

func (o *SecretData) decodeFast(item ttlv.TTLV) bool {
	out := *o
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagSecretDataType:
			return readEnum(it, &out.SecretDataType)
		case kmip14.TagKeyBlock:
			return keyBlockField(it, &out.KeyBlock)
		}
		return true
	})
	if ok {
		*o = out
	}
	return ok
}

func (r *GetAttributesRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	out.AttributeName = slices.Clone(r.AttributeName)
	out.AttributeReference = slices.Clone(r.AttributeReference)
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagAttributeName:
			var n string
			if !readText(it, &n) {
				return false
			}
			out.AttributeName = append(out.AttributeName, n)
		case kmip20.TagAttributeReference:
			out.AttributeReference = append(out.AttributeReference, it.Copy())
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *AddAttributeRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagAttribute:
			out.Attribute = it.Copy()
		case kmip20.TagNewAttribute:
			out.NewAttribute = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *ModifyAttributeRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagAttribute:
			out.Attribute = it.Copy()
		case kmip20.TagCurrentAttribute:
			out.CurrentAttribute = it.Copy()
		case kmip20.TagNewAttribute:
			out.NewAttribute = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *DeleteAttributeRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagAttributeName:
			return readText(it, &out.AttributeName)
		case kmip14.TagAttributeIndex:
			return readInt(it, &out.AttributeIndex)
		case kmip20.TagCurrentAttribute:
			out.CurrentAttribute = it.Copy()
		case kmip20.TagAttributeReference:
			out.AttributeReference = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *SetAttributeRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip20.TagNewAttribute:
			out.NewAttribute = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *LocateRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	out.Attribute = slices.Clone(r.Attribute)
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagMaximumItems:
			return readInt(it, &out.MaximumItems)
		case kmip14.TagOffsetItems:
			return readInt(it, &out.OffsetItems)
		case kmip14.TagStorageStatusMask:
			return readInt(it, &out.StorageStatusMask)
		case kmip14.TagObjectGroupMember:
			return readEnum(it, &out.ObjectGroupMember)
		case kmip14.TagAttribute:
			out.Attribute = append(out.Attribute, it.Copy())
		case kmip20.TagAttributes:
			out.Attributes = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *GetAttributeListRequest) decodeFast(item ttlv.TTLV) bool {
	return decodeUIDOnly(item, &r.UniqueIdentifier)
}

func (r *DestroyRequest) decodeFast(item ttlv.TTLV) bool {
	return decodeUIDOnly(item, &r.UniqueIdentifier)
}

func (r *RevokeRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagRevocationReason:
			reason := out.RevocationReason
			if !fields(it.Raw, func(f tf.Item) bool {
				switch f.Tag {
				case kmip14.TagRevocationReasonCode:
					return readEnum(f, &reason.RevocationReasonCode)
				case kmip14.TagRevocationMessage:
					return readText(f, &reason.RevocationMessage)
				}
				return true
			}) {
				return false
			}
			out.RevocationReason = reason
		case kmip14.TagCompromiseOccurrenceDate:
			if !it.Is(ttlv.TypeDateTime) && !it.Is(ttlv.TypeDateTimeExtended) {
				return false
			}
			out.CompromiseOccurrenceDate = it.Time()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *ActivateRequest) decodeFast(item ttlv.TTLV) bool {
	return decodeUIDOnly(item, &r.UniqueIdentifier)
}

func (r *ArchiveRequest) decodeFast(item ttlv.TTLV) bool {
	return decodeUIDOnly(item, &r.UniqueIdentifier)
}

func (r *CreateKeyPairRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		keyPairTemplate(it, &out.CommonTemplateAttribute, &out.PrivateKeyTemplateAttribute, &out.PublicKeyTemplateAttribute,
			&out.CommonAttributes, &out.PrivateKeyAttributes, &out.PublicKeyAttributes)
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *ReKeyRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagUniqueIdentifier:
			out.UniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagOffset:
			out.Offset = it.Copy()
		case kmip14.TagTemplateAttribute:
			out.TemplateAttribute = it.Copy()
		case kmip20.TagAttributes:
			out.Attributes = it.Copy()
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *ReKeyKeyPairRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagPrivateKeyUniqueIdentifier:
			out.PrivateKeyUniqueIdentifier = UniqueID{raw: it.Copy()}
		case kmip14.TagOffset:
			out.Offset = it.Copy()
		default:
			keyPairTemplate(it, &out.CommonTemplateAttribute, &out.PrivateKeyTemplateAttribute, &out.PublicKeyTemplateAttribute,
				&out.CommonAttributes, &out.PrivateKeyAttributes, &out.PublicKeyAttributes)
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

// keyPairTemplate keeps it when it is one of the template (1.x) or
// attribute (2.x) fields that Create Key Pair and Re-key Key Pair share:
// common, private key's, public key's.
func keyPairTemplate(it tf.Item, common, private, public, commonAttrs, privateAttrs, publicAttrs *ttlv.TTLV) {
	var dst *ttlv.TTLV
	switch it.Tag {
	case kmip14.TagCommonTemplateAttribute:
		dst = common
	case kmip14.TagPrivateKeyTemplateAttribute:
		dst = private
	case kmip14.TagPublicKeyTemplateAttribute:
		dst = public
	case kmip20.TagCommonAttributes:
		dst = commonAttrs
	case kmip20.TagPrivateKeyAttributes:
		dst = privateAttrs
	case kmip20.TagPublicKeyAttributes:
		dst = publicAttrs
	default:
		return
	}
	*dst = it.Copy()
}

func (r *RNGRetrieveRequest) decodeFast(item ttlv.TTLV) bool {
	out := *r
	ok := fields(item, func(it tf.Item) bool {
		if it.Tag == kmip14.TagDataLength {
			return readInt(it, &out.DataLength)
		}
		return true
	})
	if ok {
		*r = out
	}
	return ok
}

func (r *QueryRequest) decodeFast(item ttlv.TTLV) bool {
	out := slices.Clone(r.QueryFunction)
	ok := fields(item, func(it tf.Item) bool {
		if it.Tag != kmip14.TagQueryFunction {
			return true
		}
		var fn kmip14.QueryFunction
		out = append(out, fn)
		return readEnum(it, &out[len(out)-1])
	})
	if ok {
		r.QueryFunction = out
	}
	return ok
}

func (r *DiscoverVersionsRequest) decodeFast(item ttlv.TTLV) bool {
	out := slices.Clone(r.ProtocolVersion)
	ok := fields(item, func(it tf.Item) bool {
		if it.Tag != kmip14.TagProtocolVersion {
			return true
		}
		out = append(out, Version{})
		return decodeVersionFast(&out[len(out)-1], it.Raw)
	})
	if ok {
		r.ProtocolVersion = out
	}
	return ok
}

func (r *CreateKeyPairResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendKeyPairIDs(b, tag, r.PrivateKeyUniqueIdentifier, r.PublicKeyUniqueIdentifier), true
}

func (r *ReKeyKeyPairResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendKeyPairIDs(b, tag, r.PrivateKeyUniqueIdentifier, r.PublicKeyUniqueIdentifier), true
}

// appendKeyPairIDs is a payload of a key pair's two identifiers.
func appendKeyPairIDs(b []byte, tag ttlv.Tag, private, public string) []byte {
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagPrivateKeyUniqueIdentifier, private)
	b = tf.Text(b, kmip14.TagPublicKeyUniqueIdentifier, public)
	return tf.End(b, s)
}

func (r *ReKeyResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendUID(b, tag, r.UniqueIdentifier)
}

func (r *ArchiveResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendUID(b, tag, r.UniqueIdentifier)
}

func (r *RNGRetrieveResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	if r.Data != nil { // no omitempty: written when not nil
		b = tf.Bytes(b, kmip14.TagData, r.Data)
	}
	return tf.End(b, s), true
}

// fastEncoder is a payload with a hand-written encoder: appendFast appends
// it as an item tagged tag, or reports that it cannot (b is then to be
// thrown away).
type fastEncoder interface {
	appendFast(b []byte, tag ttlv.Tag) ([]byte, bool)
}

// marshalFast encodes a response, or reports that one of its payloads has
// no hand-written encoder.
func (r *Response) marshalFast() (ttlv.TTLV, bool) {
	b, msg := tf.Begin(make([]byte, 0, 512), kmip14.TagResponseMessage)
	var h int
	b, h = tf.Begin(b, kmip14.TagResponseHeader)
	b = appendVersionFast(b, r.Header.ProtocolVersion)
	b = tf.DateTime(b, kmip14.TagTimeStamp, r.Header.TimeStamp)
	if r.Header.ClientCorrelationValue != "" {
		b = tf.Text(b, kmip14.TagClientCorrelationValue, r.Header.ClientCorrelationValue)
	}
	if r.Header.ServerCorrelationValue != "" {
		b = tf.Text(b, kmip14.TagServerCorrelationValue, r.Header.ServerCorrelationValue)
	}
	b = tf.Int(b, kmip14.TagBatchCount, r.Header.BatchCount)
	b = tf.End(b, h)
	for i := range r.Items {
		it := &r.Items[i]
		var bi int
		b, bi = tf.Begin(b, kmip14.TagBatchItem)
		if it.Operation != 0 {
			b = tf.Enum(b, kmip14.TagOperation, uint32(it.Operation))
		}
		if len(it.UniqueBatchItemID) > 0 {
			b = tf.Bytes(b, kmip14.TagUniqueBatchItemID, it.UniqueBatchItemID)
		}
		b = tf.Enum(b, kmip14.TagResultStatus, uint32(it.ResultStatus))
		if it.ResultReason != 0 {
			b = tf.Enum(b, kmip14.TagResultReason, uint32(it.ResultReason))
		}
		if it.ResultMessage != "" {
			b = tf.Text(b, kmip14.TagResultMessage, it.ResultMessage)
		}
		if it.ResponsePayload != nil {
			p, ok := it.ResponsePayload.(fastEncoder)
			if !ok {
				return nil, false
			}
			if b, ok = p.appendFast(b, kmip14.TagResponsePayload); !ok {
				return nil, false
			}
		}
		b = tf.End(b, bi)
	}
	return tf.End(b, msg), true
}

func appendVersionFast(b []byte, v Version) []byte {
	b, s := tf.Begin(b, kmip14.TagProtocolVersion)
	b = tf.Int(b, kmip14.TagProtocolVersionMajor, v.Major)
	b = tf.Int(b, kmip14.TagProtocolVersionMinor, v.Minor)
	return tf.End(b, s)
}

func (c *CreateResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if c == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	b = tf.Enum(b, kmip14.TagObjectType, uint32(c.ObjectType))
	b = tf.Text(b, kmip14.TagUniqueIdentifier, c.UniqueIdentifier)
	return tf.End(b, s), true
}

func (r *RegisterResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagUniqueIdentifier, r.UniqueIdentifier)
	return tf.End(b, s), true
}

// appendUID is a payload holding only a Unique Identifier.
func appendUID(b []byte, tag ttlv.Tag, id string) ([]byte, bool) {
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagUniqueIdentifier, id)
	return tf.End(b, s), true
}

func (r *DestroyResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendUID(b, tag, r.UniqueIdentifier)
}

func (r *ActivateResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendUID(b, tag, r.UniqueIdentifier)
}

func (r *RevokeResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	return appendUID(b, tag, r.UniqueIdentifier)
}

func (r *AttributeResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagUniqueIdentifier, r.UniqueIdentifier)
	b = append(b, r.Attribute...)
	return tf.End(b, s), true
}

func (r *GetAttributesResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagUniqueIdentifier, r.UniqueIdentifier)
	for _, a := range r.Attribute {
		b = append(b, a...)
	}
	b = append(b, r.Attributes...)
	return tf.End(b, s), true
}

func (r *GetAttributeListResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	b = tf.Text(b, kmip14.TagUniqueIdentifier, r.UniqueIdentifier)
	for _, n := range r.AttributeName {
		b = tf.Text(b, kmip14.TagAttributeName, n)
	}
	for _, a := range r.AttributeReference {
		b = append(b, a...)
	}
	return tf.End(b, s), true
}

func (r *LocateResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	if r.LocatedItems != nil {
		b = tf.Int(b, kmip14.TagLocatedItems, *r.LocatedItems)
	}
	for _, id := range r.UniqueIdentifier {
		b = tf.Text(b, kmip14.TagUniqueIdentifier, id)
	}
	return tf.End(b, s), true
}

func (r *DiscoverVersionsResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	for _, v := range r.ProtocolVersion {
		b = appendVersionFast(b, v)
	}
	return tf.End(b, s), true
}

func (r *QueryResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if r == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	for _, op := range r.Operation {
		b = tf.Enum(b, kmip14.TagOperation, uint32(op))
	}
	for _, t := range r.ObjectType {
		b = tf.Enum(b, kmip14.TagObjectType, uint32(t))
	}
	if r.VendorIdentification != "" {
		b = tf.Text(b, kmip14.TagVendorIdentification, r.VendorIdentification)
	}
	b = append(b, r.ServerInformation...)
	return tf.End(b, s), true
}

func (g *GetResponse) appendFast(b []byte, tag ttlv.Tag) ([]byte, bool) {
	if g == nil {
		return b, false
	}
	b, s := tf.Begin(b, tag)
	b = tf.Enum(b, kmip14.TagObjectType, uint32(g.ObjectType))
	b = tf.Text(b, kmip14.TagUniqueIdentifier, g.UniqueIdentifier)
	if c := g.Certificate; c != nil {
		var o int
		b, o = tf.Begin(b, kmip14.TagCertificate)
		b = tf.Enum(b, kmip14.TagCertificateType, uint32(c.CertificateType))
		b = tf.Bytes(b, kmip14.TagCertificateValue, c.CertificateValue)
		b = tf.End(b, o)
	}
	if k := g.SymmetricKey; k != nil {
		var o int
		b, o = tf.Begin(b, kmip14.TagSymmetricKey)
		b = k.KeyBlock.appendFast(b)
		b = tf.End(b, o)
	}
	if k := g.PublicKey; k != nil {
		var o int
		b, o = tf.Begin(b, kmip14.TagPublicKey)
		b = k.KeyBlock.appendFast(b)
		b = tf.End(b, o)
	}
	if k := g.PrivateKey; k != nil {
		var o int
		b, o = tf.Begin(b, kmip14.TagPrivateKey)
		b = k.KeyBlock.appendFast(b)
		b = tf.End(b, o)
	}
	b = append(b, g.Template...)
	if d := g.SecretData; d != nil {
		var o int
		b, o = tf.Begin(b, kmip14.TagSecretData)
		b = tf.Enum(b, kmip14.TagSecretDataType, uint32(d.SecretDataType))
		b = d.KeyBlock.appendFast(b)
		b = tf.End(b, o)
	}
	if d := g.OpaqueObject; d != nil {
		var o int
		b, o = tf.Begin(b, kmip14.TagOpaqueObject)
		b = tf.Enum(b, kmip14.TagOpaqueDataType, uint32(d.OpaqueDataType))
		b = tf.Bytes(b, kmip14.TagOpaqueDataValue, d.OpaqueDataValue)
		b = tf.End(b, o)
	}
	return tf.End(b, s), true
}

func (k *KeyBlock) appendFast(b []byte) []byte {
	b, s := tf.Begin(b, kmip14.TagKeyBlock)
	b = tf.Enum(b, kmip14.TagKeyFormatType, uint32(k.KeyFormatType))
	if k.KeyCompressionType != 0 {
		b = tf.Enum(b, kmip14.TagKeyCompressionType, uint32(k.KeyCompressionType))
	}
	b = append(b, k.KeyValue...)
	if k.CryptographicAlgorithm != 0 {
		b = tf.Enum(b, kmip14.TagCryptographicAlgorithm, uint32(k.CryptographicAlgorithm))
	}
	if k.CryptographicLength != 0 {
		b = tf.Int(b, kmip14.TagCryptographicLength, k.CryptographicLength)
	}
	b = append(b, k.KeyWrappingData...)
	return tf.End(b, s)
}

func (a *attributeV1) decodeFast(item ttlv.TTLV) bool {
	out := *a
	ok := fields(item, func(it tf.Item) bool {
		switch it.Tag {
		case kmip14.TagVendorIdentification:
			return readText(it, &out.VendorIdentification)
		case kmip14.TagAttributeName:
			return readText(it, &out.AttributeName)
		case kmip14.TagAttributeIndex:
			return readInt(it, &out.AttributeIndex)
		case kmip14.TagAttributeValue:
			out.AttributeValue = it.Copy()
		}
		return true
	})
	if ok {
		*a = out
	}
	return ok
}
