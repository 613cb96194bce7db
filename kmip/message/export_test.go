package message

import (
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// RawUniqueID is the item a UniqueID holds, for tests that compare
// decoders.
func RawUniqueID(u UniqueID) ttlv.TTLV { return u.raw }

// DecodedByHand says whether the hand-written decoder of v reads msg
// (without falling back to the reflection decoder).
func DecodedByHand(msg ttlv.TTLV, v any) bool {
	d, ok := v.(fastDecoder)
	return ok && d.decodeFast(msg)
}

// EncodedByHand says whether Marshal writes r with the hand-written
// encoder.
func EncodedByHand(r *Response) bool {
	_, ok := r.marshalFast()
	return ok
}

// AttributeV1Both decodes a 1.x Attribute structure with the hand-written
// decoder (when it takes it) and with the reflection decoder.
func AttributeV1Both(item ttlv.TTLV) (got, want attr.Attribute, gotErr, wantErr error, byHand bool) {
	var a, b attributeV1
	byHand = (&attributeV1{}).decodeFast(item)
	gotErr = Unmarshal(item, &a)
	wantErr = wire.Decode(item, &b)
	got = attr.Attribute{Name: a.VendorIdentification + "/" + a.AttributeName, Index: a.AttributeIndex, Value: a.AttributeValue}
	want = attr.Attribute{Name: b.VendorIdentification + "/" + b.AttributeName, Index: b.AttributeIndex, Value: b.AttributeValue}
	return got, want, gotErr, wantErr, byHand
}
