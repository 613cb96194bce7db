package attr_test

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/internal/fuzzseed"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// vectorLists builds stored lists from every attribute of the OASIS
// vectors' requests: one list per attribute (twice, indexes 0 and 1) and
// one list holding them all.
func vectorLists(t testing.TB) []attr.List {
	c := fuzzseed.Load(t)
	var all attr.List
	var lists []attr.List
	for _, a := range c.Attributes {
		name, value := attributeValue(a)
		if value == nil {
			continue
		}
		v := attr.Retag(value, ttlv.Tag(0x42000B))
		var l attr.List
		l.Add(name, v)
		l.Add(name, v)
		lists = append(lists, l)
		all.Add(name, v)
	}
	return append(lists, all)
}

func handMadeLists() []attr.List {
	var full attr.List
	full.Set(attr.UniqueIdentifier, attr.Text("6f1c7d7e-1b8a-4f0e-9d55-2b6c36a0a001"))
	full.Set(attr.Name, attr.Text("seven bytes")) // padding
	full.Add(attr.Name, attr.Text("exactly8"))
	full.Set(attr.CryptographicLength, attr.Int(256))
	full.Set(attr.State, attr.Enum(1))
	full.Set(attr.Fresh, attr.Bool(true))
	full.Set(attr.Digest, attr.Bytes([]byte{1, 2, 3}))
	full.Add("x-empty", attr.Text(""))
	full.Add("x-negative-index", attr.Int(-1))
	full[len(full)-1].Index = -5
	return []attr.List{nil, {}, full, {{Name: "", Index: 0, Value: nil}}}
}

// TestMarshalMatchesReflection: the hand-written encoder writes the bytes
// gemalto's encoder writes, for every list of the OASIS vectors'
// attributes and the hand-made ones.
func TestMarshalMatchesReflection(t *testing.T) {
	lists := append(handMadeLists(), vectorLists(t)...)
	require.Greater(t, len(lists), 4)
	for i, l := range lists {
		want, err := attr.MarshalReflect(l)
		require.NoError(t, err)
		got, err := l.Marshal()
		require.NoError(t, err)
		require.Equal(t, []byte(want), got, "list %d", i)
	}
}

// TestUnmarshalMatchesReflection: both decoders read the same list from
// what Marshal wrote, from records of other shapes, and fail on the same
// input.
func TestUnmarshalMatchesReflection(t *testing.T) {
	var inputs [][]byte
	for _, l := range append(handMadeLists(), vectorLists(t)...) {
		b, err := l.Marshal()
		require.NoError(t, err)
		inputs = append(inputs, b)
	}
	odd := func(children ...ttlv.TTLV) []byte {
		return attr.Structure(ttlv.Tag(0x420091), children...) // Template-Attribute
	}
	name := attr.Retag(attr.Text("Name"), ttlv.Tag(0x42000A))
	index := attr.Retag(attr.Int(4), ttlv.Tag(0x420009))
	value := attr.Retag(attr.Text("a value"), ttlv.Tag(0x42000B))
	inputs = append(inputs,
		odd(attr.Structure(ttlv.Tag(0x420008), attr.Retag(attr.Int(3), ttlv.Tag(0x42000A)))),        // name as Integer
		odd(attr.Structure(ttlv.Tag(0x420008), name, attr.Retag(attr.Enum(3), ttlv.Tag(0x420009)))), // index as Enumeration
		odd(attr.Retag(attr.Int(1), ttlv.Tag(0x420008))),                                            // Attribute not a structure
		odd(attr.Retag(attr.Int(1), ttlv.Tag(0x420094))),                                            // unknown child, ignored
		odd(attr.Structure(ttlv.Tag(0x420008), name, name, attr.Retag(attr.Int(9), ttlv.Tag(0x420009)), attr.Retag(attr.Int(2), ttlv.Tag(0x420009)))),
		attr.Text("not a structure"),
		[]byte{0x42, 0, 0x91, 1, 0xff, 0xff, 0xff, 0xff}, // length claims 4 GiB
		append(odd(attr.Structure(ttlv.Tag(0x420008), name, attr.Retag(attr.Int(2), ttlv.Tag(0x420009)))), 0x42, 0, 0x0A, 2), // bytes after the list, ignored
		// Nearly the shape the encoder writes: the general loop reads them.
		odd(attr.Structure(ttlv.Tag(0x420008), name, index, value, attr.Retag(attr.Text("last"), ttlv.Tag(0x42000B)))), // value repeated: the last kept
		odd(attr.Structure(ttlv.Tag(0x420008), index, name, value)),                                                    // fields in another order
		odd(attr.Structure(ttlv.Tag(0x420008), name, value)),                                                           // no index
		odd(attr.Structure(ttlv.Tag(0x420008), name, index, value, attr.Retag(attr.Int(1), ttlv.Tag(0x420094)))),       // an unknown field after
		odd(attr.Structure(ttlv.Tag(0x420008), name, attr.Retag(attr.Long(2), ttlv.Tag(0x420009)), value)),             // index a Long Integer
		odd(attr.Structure(ttlv.Tag(0x420008), name, index, attr.Retag(attr.Bytes(make([]byte, 9)), ttlv.Tag(0x42000B)))),
		odd(attr.Structure(ttlv.Tag(0x420008), name, index, attr.Structure(ttlv.Tag(0x42000B)))), // empty structure value
		[]byte{0x42, 0, 0x91, 1}, // truncated header
		nil,                      // nothing
		odd(attr.Retag(attr.Text("é"), ttlv.Tag(0x420008))[:14]), // truncated child
	)
	for i, b := range inputs {
		want, wantErr := attr.UnmarshalReflect(b)
		got, err := attr.Unmarshal(b)
		if wantErr != nil {
			assert.Error(t, err, "input %d", i)
			continue
		}
		require.NoError(t, err, "input %d", i)
		assert.Equal(t, trimValues(want), got, "input %d", i)
		shared, err := attr.UnmarshalShared(append([]byte(nil), b...))
		require.NoError(t, err, "input %d", i)
		assert.Equal(t, got, shared, "input %d: UnmarshalShared reads the same list", i)
		checked, err := attr.UnmarshalSharedChecked(append([]byte(nil), b...))
		require.NoError(t, err, "input %d", i)
		assert.Equal(t, got, checked, "input %d: UnmarshalSharedChecked reads the same list", i)
	}
}

// TestUnmarshalSharedCheckedRefusesWhatIsNotAList: handed bytes whose
// first item is not a whole structure (the caller's mistake: it promises
// bytes UnmarshalShared accepted), the unchecked decoder fails as
// UnmarshalShared does instead of reading beyond them. (Inside a whole
// structure it checks nothing: that is the point of it.)
func TestUnmarshalSharedCheckedRefusesWhatIsNotAList(t *testing.T) {
	for name, b := range map[string][]byte{
		"nothing":                  nil,
		"truncated header":         {0x42, 0, 0x91, 1},
		"not a structure":          attr.Text("not a structure"),
		"length beyond the input":  {0x42, 0, 0x91, 1, 0, 0, 0, 16, 0x42, 0, 0x08, 1, 0, 0, 0, 0},
		"length claims 4 GiB":      {0x42, 0, 0x91, 1, 0xff, 0xff, 0xff, 0xff},
		"child of an unknown type": {0x42, 0, 0x91, 1, 0, 0, 0, 8, 0x42, 0, 0x08, 0x77, 0, 0, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, want := attr.UnmarshalShared(b)
			require.Error(t, want)
			_, err := attr.UnmarshalSharedChecked(b)
			assert.Error(t, err)
		})
	}
}

// TestUnmarshalValuesAreTheirOwn: Unmarshal's values do not change when
// the input does, and appending to one value never writes into another
// (they share one buffer); UnmarshalShared's point into its input.
func TestUnmarshalValuesAreTheirOwn(t *testing.T) {
	var l attr.List
	l.Add("Name", attr.Text("first"))
	l.Add("Object Group", attr.Text("second"))
	l.Add("x-custom", attr.Int(7))
	b, err := l.Marshal()
	require.NoError(t, err)
	got, err := attr.Unmarshal(b)
	require.NoError(t, err)
	require.Len(t, got, 3)
	want := append(attr.List(nil), got...)
	for i := range want {
		want[i].Value = append(ttlv.TTLV(nil), got[i].Value...)
	}
	for i := range b {
		b[i] ^= 0xFF
	}
	assert.Equal(t, want, got, "the input changed, the list did not")
	got[0].Value = append(got[0].Value, 0x42, 0x42, 0x42, 0x42)
	assert.Equal(t, want[1:], got[1:], "appending to the first value left the next ones alone")

	b, err = l.Marshal()
	require.NoError(t, err)
	shared, err := attr.UnmarshalShared(b)
	require.NoError(t, err)
	assert.Equal(t, want, shared)
	for i := range b {
		b[i] = 0
	}
	assert.NotEqual(t, want, shared, "UnmarshalShared's values point into its input")
}

// trimValues cuts each Attribute Value the reflection decoder returned to
// its first item: that decoder copies the siblings after a raw item too.
func trimValues(l attr.List) attr.List {
	for i, a := range l {
		if len(a.Value) >= 8 {
			l[i].Value = a.Value[:a.Value.FullLen()]
		}
	}
	return l
}

// FuzzStoredListCodecs: on any checked input the hand-written decoder
// agrees with the reflection decoder (same list, or both fail).
func FuzzStoredListCodecs(f *testing.F) {
	for _, l := range append(handMadeLists(), vectorLists(f)...) {
		b, err := l.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := wire.CheckFirst(data); err != nil {
			return
		}
		want, wantErr := attr.UnmarshalReflect(data)
		got, err := attr.Unmarshal(data)
		if (wantErr != nil) != (err != nil) {
			t.Fatalf("reflection error %v, hand-written error %v", wantErr, err)
		}
		if err == nil {
			assert.Equal(t, trimValues(want), got)
			checked, err := attr.UnmarshalSharedChecked(append([]byte(nil), data...))
			require.NoError(t, err)
			assert.Equal(t, got, checked, "UnmarshalSharedChecked reads the same list")
		}
	})
}

// keyList is the attribute list of an AES key as Create stores it.
func keyList() attr.List {
	var l attr.List
	day := time.Unix(1700000000, 0)
	l.Set(attr.CryptographicAlgorithm, attr.Enum(3))
	l.Set(attr.CryptographicLength, attr.Int(256))
	l.Set(attr.CryptographicUsageMask, attr.Int(12))
	l.Set(attr.UniqueIdentifier, attr.Text("6f1c7d7e-1b8a-4f0e-9d55-2b6c36a0a001"))
	l.Set(attr.ShortUniqueIdentifier, attr.Bytes(make([]byte, 32)))
	l.Set(attr.ObjectType, attr.Enum(2))
	l.Set(attr.InitialDate, attr.Date(day))
	l.Set(attr.LastChangeDate, attr.Date(day))
	l.Set(attr.OriginalCreationDate, attr.Date(day))
	l.Set(attr.Digest, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Enum(6), ttlv.Tag(0x420034)), attr.Retag(attr.Bytes(make([]byte, 32)), ttlv.Tag(0x420035)), attr.Retag(attr.Enum(1), ttlv.Tag(0x420042))))
	l.Set(attr.KeyFormatType, attr.Enum(1))
	for _, name := range []string{attr.Fresh, attr.Sensitive, attr.Extractable, attr.AlwaysSensitive, attr.NeverExtractable} {
		l.Set(name, attr.Bool(name == attr.Extractable))
	}
	l.Set(attr.LeaseTime, attr.Int(3600))
	l.Set(attr.ProtectionStorageMask, attr.Int(1))
	l.Set(attr.RandomNumberGenerator, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Enum(1), ttlv.Tag(0x42012B))))
	l.Set(attr.State, attr.Enum(1))
	l.Add("x-custom", attr.Text("a custom attribute"))
	return l
}

// BenchmarkUnmarshalShared: what the operations pay to decode a
// record's attribute list, checked (a record read first, or without a
// MAC) and unchecked (a record the verified cache knows).
//
//	go test ./kmip/attr -run '^$' -bench UnmarshalShared -benchmem
func BenchmarkUnmarshalShared(b *testing.B) {
	list, err := keyList().Marshal()
	require.NoError(b, err)
	for _, d := range []struct {
		name   string
		decode func([]byte) (attr.List, error)
	}{{"checked", attr.UnmarshalShared}, {"unchecked", attr.UnmarshalSharedChecked}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.decode(list); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
