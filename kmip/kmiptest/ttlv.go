package kmiptest

import (
	"encoding/binary"
	"strings"

	"github.com/gemalto/kmip-go/ttlv"
)

func structure(tag ttlv.Tag, children ...ttlv.TTLV) ttlv.TTLV {
	n := 0
	for _, c := range children {
		n += len(c)
	}
	out := make(ttlv.TTLV, 8, 8+n)
	out[0], out[1], out[2], out[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeStructure)
	binary.BigEndian.PutUint32(out[4:], uint32(n))
	for _, c := range children {
		out = append(out, c...)
	}
	return out
}

func retag(t ttlv.TTLV, tag ttlv.Tag) ttlv.TTLV {
	out := append(ttlv.TTLV(nil), t...)
	out[0], out[1], out[2] = byte(tag>>16), byte(tag>>8), byte(tag)
	return out
}

// encode2 renders one attribute in its 2.x form.
func encode2(name string, value ttlv.TTLV) ttlv.TTLV {
	if vendor, n, ok := strings.Cut(name, "-"); ok {
		b, err := ttlv.Marshal(struct {
			TTLVTag              struct{} `ttlv:"Attribute"`
			VendorIdentification string
			AttributeName        string
			AttributeValue       ttlv.TTLV
		}{VendorIdentification: vendor, AttributeName: n, AttributeValue: value})
		if err != nil {
			panic(err)
		}
		return b
	}
	tag, err := ttlv.DefaultRegistry.ParseTag(ttlv.NormalizeName(name))
	if err != nil {
		panic("kmiptest: unknown attribute " + name)
	}
	return retag(value, tag)
}
