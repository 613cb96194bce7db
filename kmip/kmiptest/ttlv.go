package kmiptest

import (
	"strings"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
)

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
	return attr.Retag(value, tag)
}
