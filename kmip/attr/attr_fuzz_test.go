package attr_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/internal/fuzzseed"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// The fuzz targets of the attribute model: values a client sends (checked
// against the rules table and read by the typed readers) and the stored
// attribute list. Seeds: the attributes of the OASIS vectors' requests.

// attributeValue returns the Attribute Value inside a 1.x Attribute
// structure, or the item itself (a 2.x attribute tagged by its own tag).
func attributeValue(item []byte) (name string, value []byte) {
	t := ttlv.TTLV(item)
	if t.Type() != ttlv.TypeStructure {
		if r, ok := attr.ByTag(t.Tag()); ok {
			return r.Name, item
		}
		return "x-seed", item
	}
	for c := t.ValueStructure(); len(c) >= 8; c = c.Next() {
		switch c.Tag().String() {
		case "AttributeName":
			name = c.ValueTextString()
		case "AttributeValue":
			value = c[:c.FullLen()]
		}
	}
	return name, value
}

// FuzzAttributeValue: for any attribute name and any well-formed value,
// the rules table and the typed readers never panic; Canonical is stable.
func FuzzAttributeValue(f *testing.F) {
	c := fuzzseed.Load(f)
	for _, a := range fuzzseed.Pick(c.Attributes) {
		name, value := attributeValue(a)
		if value != nil {
			f.Add(name, value)
		}
	}
	f.Add("Name", []byte(attr.Text("n")))
	f.Add("x-custom", []byte(attr.Int(7)))
	f.Fuzz(func(t *testing.T, name string, value []byte) {
		if wire.Check(value) != nil {
			return
		}
		canon := attr.Canonical(name)
		if attr.Canonical(canon) != canon {
			t.Fatalf("Canonical(%q) = %q, but Canonical of that is %q", name, canon, attr.Canonical(canon))
		}
		_ = attr.IsCustom(name)
		v := attr.Retag(value, ttlv.Tag(0x42000B)) // Attribute Value
		if r, ok := attr.Lookup(name); ok {
			_ = r.CheckValue(v)
			for _, ver := range []attr.Version{{Major: 1}, {Major: 1, Minor: 4}, {Major: 2, Minor: 1}} {
				_ = r.In(ver)
				_ = attr.Known(ver, name)
			}
		}
		if r, ok := attr.ByTag(ttlv.TTLV(value).Tag()); ok {
			_ = r.CheckValue(v)
		}
		a := attr.Attribute{Name: name, Value: v}
		_, _ = a.Enum()
		_, _ = a.Int()
		_, _ = a.Text()
		_, _ = a.Date()
		_, _ = a.NameValue()
		if ttlv.TTLV(v).Type() == ttlv.TypeStructure { // its contract
			_ = attr.Children(v)
		}

		// What a client sent is stored and read back byte for byte. (A
		// name a client sends is a checked Text String: valid UTF-8.)
		if !utf8.ValidString(name) {
			return
		}
		var l attr.List
		l.Add(name, v)
		l.Add(name, v)
		b, err := l.Marshal()
		if err != nil {
			return
		}
		back, err := attr.Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal of Marshal: %v", err)
		}
		if len(back) != 2 || back[1].Name != name || back[1].Index != 1 || !bytes.Equal(back[1].Value, v) {
			t.Fatalf("stored attribute came back as %+v", back)
		}
	})
}

// FuzzStoredList: a stored attribute list read from a damaged record
// gives an error, never a panic; one that decodes encodes to the same
// attributes.
func FuzzStoredList(f *testing.F) {
	var l attr.List
	l.Set(attr.Name, attr.Text("seed"))
	l.Add("x-custom", attr.Bytes([]byte{1, 2, 3}))
	l.Set(attr.CryptographicLength, attr.Int(256))
	b, err := l.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := attr.Unmarshal(data)
		if err != nil {
			return
		}
		again, err := got.Marshal()
		if err != nil {
			return // values a store never holds (not single items)
		}
		back, err := attr.Unmarshal(again)
		if err != nil || len(back) != len(got) {
			t.Fatalf("round trip: %v, %d attributes for %d", err, len(back), len(got))
		}
		for i := range got {
			if back[i].Name != got[i].Name || back[i].Index != got[i].Index {
				t.Fatalf("attribute %d: %+v became %+v", i, got[i], back[i])
			}
		}
	})
}
