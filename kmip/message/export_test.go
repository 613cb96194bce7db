package message

import "github.com/gemalto/kmip-go/ttlv"

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
