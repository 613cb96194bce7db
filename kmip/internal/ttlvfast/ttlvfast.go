// Package ttlvfast writes and reads TTLV by hand for the codec's hot paths
// (the request envelope, the stored attribute list, the Get and Create
// payloads), where gemalto/kmip-go's reflection codec costs most of a
// request's CPU: it recomputes every type's field table on each call.
//
// The writers produce exactly the bytes gemalto's encoder produces for the
// same values (the tests of the packages using them compare the two). The
// reader only walks items that wire.Check has verified; the decoders built
// on it accept the shapes they know and report anything else as not
// handled, so that the reflection decoder, and its exact behaviour, still
// answers the unusual input.
package ttlvfast

import (
	"encoding/binary"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
)

// Header is the length of an item's tag, type and length.
const Header = 8

func appendHeader(b []byte, tag ttlv.Tag, typ ttlv.Type, n int) []byte {
	return append(b, byte(tag>>16), byte(tag>>8), byte(tag), byte(typ),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// Begin starts a Structure; End closes it with the length of what was
// appended in between.
func Begin(b []byte, tag ttlv.Tag) ([]byte, int) {
	b = appendHeader(b, tag, ttlv.TypeStructure, 0)
	return b, len(b)
}

// End sets the length of the structure Begin started at start.
func End(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start-4:start], uint32(len(b)-start))
	return b
}

func append4(b []byte, tag ttlv.Tag, typ ttlv.Type, v uint32) []byte {
	b = appendHeader(b, tag, typ, 4)
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v), 0, 0, 0, 0)
}

func append8(b []byte, tag ttlv.Tag, typ ttlv.Type, v uint64) []byte {
	b = appendHeader(b, tag, typ, 8)
	return binary.BigEndian.AppendUint64(b, v)
}

// Int appends an Integer.
func Int(b []byte, tag ttlv.Tag, v int32) []byte {
	return append4(b, tag, ttlv.TypeInteger, uint32(v))
}

// Long appends a Long Integer.
func Long(b []byte, tag ttlv.Tag, v int64) []byte {
	return append8(b, tag, ttlv.TypeLongInteger, uint64(v))
}

// Enum appends an Enumeration.
func Enum(b []byte, tag ttlv.Tag, v uint32) []byte {
	return append4(b, tag, ttlv.TypeEnumeration, v)
}

// Bool appends a Boolean.
func Bool(b []byte, tag ttlv.Tag, v bool) []byte {
	var u uint64
	if v {
		u = 1
	}
	return append8(b, tag, ttlv.TypeBoolean, u)
}

// DateTime appends a Date-Time (whole seconds, as gemalto writes it).
func DateTime(b []byte, tag ttlv.Tag, t time.Time) []byte {
	return append8(b, tag, ttlv.TypeDateTime, uint64(t.Unix()))
}

func appendPadded(b []byte, tag ttlv.Tag, typ ttlv.Type, v []byte) []byte {
	b = appendHeader(b, tag, typ, len(v))
	b = append(b, v...)
	if m := len(v) % 8; m != 0 {
		b = append(b, make([]byte, 8-m)...)
	}
	return b
}

// Text appends a Text String.
func Text(b []byte, tag ttlv.Tag, s string) []byte {
	b = appendHeader(b, tag, ttlv.TypeTextString, len(s))
	b = append(b, s...)
	if m := len(s) % 8; m != 0 {
		b = append(b, make([]byte, 8-m)...)
	}
	return b
}

// Bytes appends a Byte String. Like gemalto's encoder it writes nothing
// for a nil slice (an empty, non-nil one is an item of length 0).
func Bytes(b []byte, tag ttlv.Tag, v []byte) []byte {
	if v == nil {
		return b
	}
	return appendPadded(b, tag, ttlv.TypeByteString, v)
}

// Item is one checked TTLV item: its tag, type and value bytes (without
// padding), and the whole item with its header.
type Item struct {
	Tag   ttlv.Tag
	Type  ttlv.Type
	Value []byte
	Raw   ttlv.TTLV
}

// Next splits the first item off b, which holds checked items (a
// structure's value). ok is false at the end of b, and for bytes that are
// not a whole item (which checked input never has).
func Next(b []byte) (it Item, rest []byte, ok bool) {
	if len(b) < Header {
		return Item{}, nil, false
	}
	n := int(binary.BigEndian.Uint32(b[4:8]))
	typ := ttlv.Type(b[3])
	full := n
	switch typ {
	case ttlv.TypeTextString, ttlv.TypeByteString:
		full = (n + 7) &^ 7
	case ttlv.TypeInteger, ttlv.TypeEnumeration, ttlv.TypeInterval:
		full = 8 // 4 bytes and their padding
	}
	if n < 0 || len(b)-Header < full {
		return Item{}, nil, false
	}
	it = Item{
		Tag:   ttlv.Tag(uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])),
		Type:  typ,
		Value: b[Header : Header+n],
		Raw:   ttlv.TTLV(b[:Header+full]),
	}
	return it, b[Header+full:], true
}

// Int32 is the value of an Integer, Enumeration or Interval item.
func (it Item) Int32() int32 { return int32(binary.BigEndian.Uint32(it.Value)) }

// Uint32 is the value of an Integer, Enumeration or Interval item.
func (it Item) Uint32() uint32 { return binary.BigEndian.Uint32(it.Value) }

// Int64 is the value of a Long Integer, Date-Time or Boolean item.
func (it Item) Int64() int64 { return int64(binary.BigEndian.Uint64(it.Value)) }

// Is says whether the item is well formed for type typ: what Next returns
// for checked input, with the length the type requires.
func (it Item) Is(typ ttlv.Type) bool {
	if it.Type != typ {
		return false
	}
	switch typ {
	case ttlv.TypeInteger, ttlv.TypeEnumeration, ttlv.TypeInterval:
		return len(it.Value) == 4
	case ttlv.TypeLongInteger, ttlv.TypeDateTime, ttlv.TypeDateTimeExtended, ttlv.TypeBoolean:
		return len(it.Value) == 8
	}
	return true
}

// Time is the value of a Date-Time or Date-Time Extended item, as
// gemalto's decoder reads it.
func (it Item) Time() time.Time {
	if it.Type == ttlv.TypeDateTimeExtended {
		return time.Unix(0, it.Int64()*1000).UTC()
	}
	return time.Unix(it.Int64(), 0).UTC()
}

// Copy is a copy of the whole item, as gemalto's decoder stores a
// ttlv.TTLV field.
func (it Item) Copy() ttlv.TTLV {
	return append(ttlv.TTLV(nil), it.Raw...)
}
