package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
)

// Encode returns the TTLV encoding of n (KMIP 1.4, 9.1). Every value
// must be read: a node that still holds a placeholder is an error.
func Encode(n *Node) ([]byte, error) {
	return appendNode(nil, n)
}

func appendNode(b []byte, n *Node) ([]byte, error) {
	b = append(b, byte(n.Tag>>16), byte(n.Tag>>8), byte(n.Tag), byte(n.Type))
	if n.Type == ttlv.TypeStructure {
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		for _, c := range n.Children {
			var err error
			if b, err = appendNode(b, c); err != nil {
				return nil, err
			}
		}
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4)) //nolint:gosec // bounded by the vectors' size
		return b, nil
	}
	if n.Placeholder != "" {
		return nil, fmt.Errorf("<%s> (line %d): placeholder $%s has no value", n.Name(), n.Line, n.Placeholder)
	}
	var value []byte
	switch v := n.Value.(type) {
	case int32:
		value = binary.BigEndian.AppendUint32(nil, uint32(v)) //nolint:gosec // two's complement
	case uint32:
		value = binary.BigEndian.AppendUint32(nil, v)
	case int64:
		value = binary.BigEndian.AppendUint64(nil, uint64(v)) //nolint:gosec // two's complement
	case bool:
		value = make([]byte, 8)
		if v {
			value[7] = 1
		}
	case string:
		value = []byte(v)
	case []byte:
		value = v
		if n.Type == ttlv.TypeBigInteger {
			value = padBigInt(v)
		}
	case time.Time:
		u := v.Unix()
		if n.Type == ttlv.TypeDateTimeExtended {
			u = v.UnixMicro()
		}
		value = binary.BigEndian.AppendUint64(nil, uint64(u)) //nolint:gosec // two's complement
	case time.Duration:
		value = binary.BigEndian.AppendUint32(nil, uint32(v/time.Second)) //nolint:gosec // intervals are 32 bits
	default:
		return nil, fmt.Errorf("<%s> (line %d): no value of type %s", n.Name(), n.Line, n.Type)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(value))) //nolint:gosec // bounded by the vectors' size
	b = append(b, value...)
	if pad := len(value) % 8; pad != 0 {
		b = append(b, make([]byte, 8-pad)...)
	}
	return b, nil
}

// padBigInt extends a two's complement big-endian number to a multiple
// of 8 bytes, as a Big Integer must be (KMIP 1.4, 9.1.1.4).
func padBigInt(b []byte) []byte {
	pad := (8 - len(b)%8) % 8
	if pad == 0 && len(b) > 0 {
		return b
	}
	if len(b) == 0 {
		pad = 8
	}
	fill := byte(0)
	if len(b) > 0 && b[0]&0x80 != 0 {
		fill = 0xFF
	}
	out := make([]byte, 0, len(b)+pad)
	for range pad {
		out = append(out, fill)
	}
	return append(out, b...)
}

// Decode reads a TTLV message into nodes.
func Decode(b []byte) (*Node, error) {
	t := ttlv.TTLV(b)
	if err := t.Valid(); err != nil {
		return nil, fmt.Errorf("not valid TTLV: %w", err)
	}
	if len(b) != t.FullLen() {
		return nil, fmt.Errorf("%d bytes after the message", len(b)-t.FullLen())
	}
	return decode(t)
}

func decode(t ttlv.TTLV) (*Node, error) {
	n := &Node{Tag: t.Tag(), Type: t.Type()}
	switch n.Type {
	case ttlv.TypeStructure:
		for c := t.ValueStructure(); len(c) > 0; c = c.Next() {
			if err := c.Valid(); err != nil {
				return nil, fmt.Errorf("%s: %w", n.Name(), err)
			}
			child, err := decode(c)
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, child)
		}
	case ttlv.TypeInteger:
		n.Value = t.ValueInteger()
	case ttlv.TypeLongInteger:
		n.Value = t.ValueLongInteger()
	case ttlv.TypeBigInteger:
		n.Value = append([]byte(nil), t.ValueRaw()...)
	case ttlv.TypeEnumeration:
		n.Value = uint32(t.ValueEnumeration())
	case ttlv.TypeBoolean:
		n.Value = t.ValueBoolean()
	case ttlv.TypeTextString:
		n.Value = t.ValueTextString()
	case ttlv.TypeByteString:
		n.Value = append([]byte{}, t.ValueRaw()...)
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		n.Value = t.ValueDateTime()
	case ttlv.TypeInterval:
		n.Value = t.ValueInterval()
	default:
		return nil, errors.New("unknown TTLV type")
	}
	return n, nil
}
