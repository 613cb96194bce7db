package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/internal/fuzzseed"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// The fuzz targets of the framing and well-formedness checks: what a peer
// reaches before anything else. Seeds: every Request and Response Message
// of the OASIS vectors, a few hand-made frames, and testdata/fuzz (every
// crash found becomes a file there). `make fuzz` runs them.

// hdr is a TTLV item header.
func hdr(tag uint32, typ byte, n uint32) []byte {
	b := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag), typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], n)
	return b
}

// handSeeds are frames the vectors do not have: empty, truncated, lying
// lengths, deep nesting, odd types.
func handSeeds() [][]byte {
	deep := []byte{}
	for range wire.MaxDepth + 2 {
		deep = append(hdr(0x420078, 0x01, uint32(len(deep))), deep...)
	}
	return [][]byte{
		nil,
		{0x42},
		hdr(0x420078, 0x01, 0),
		hdr(0x420078, 0x01, 0x7FFFFFF8),
		append(hdr(0x420078, 0x01, 16), hdr(0x42000D, 0x02, 4)...),
		append(hdr(0x420078, 0x01, 16), append(hdr(0x42000D, 0x07, 3), 0xff, 0xfe, 0xfd, 0, 0, 0, 0, 0)...),
		append(hdr(0x420078, 0x01, 16), append(hdr(0x42000D, 0x04, 8), 0x80, 0, 0, 0, 0, 0, 0, 0)...),
		append(hdr(0x420078, 0x01, 16), append(hdr(0x42000D, 0x0C, 8), 0, 0, 0, 0, 0, 0, 0, 0)...),
		append(hdr(0x420078, 0x01, 16), append(hdr(0x540001, 0x06, 8), 0, 0, 0, 0, 0, 0, 0, 2)...),
		deep,
	}
}

func addSeeds(f *testing.F, add func([]byte)) {
	c := fuzzseed.Load(f)
	for _, s := range handSeeds() {
		add(s)
	}
	for _, m := range fuzzseed.Pick(c.Requests) {
		add(m)
	}
	for _, m := range fuzzseed.Pick(c.Responses) {
		add(m)
	}
}

// FuzzCheck: Check never panics, and what it accepts is exactly one item
// that gemalto's codec also finds valid and can walk to its leaves.
func FuzzCheck(f *testing.F) {
	addSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		err := wire.Check(data)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("Check: %v is not ErrMalformed", err)
			}
			return
		}
		item := ttlv.TTLV(data)
		if verr := item.Valid(); verr != nil {
			t.Fatalf("Check accepted what the codec finds invalid: %v", verr)
		}
		if item.FullLen() != len(data) {
			t.Fatalf("Check accepted %d bytes for an item of %d", len(data), item.FullLen())
		}
		walk(t, item, 0)
		if wire.Check(append(append([]byte(nil), data...), 0)) == nil {
			t.Fatal("Check accepted a trailing byte")
		}
		if item.Type() == ttlv.TypeStructure {
			msg, err := wire.ReadFrame(bytes.NewReader(data), len(data))
			if err != nil || !bytes.Equal(msg, data) {
				t.Fatalf("ReadFrame of a checked structure: %v", err)
			}
		}
	})
}

// walk visits every item as the decoders do, reading every value.
func walk(t *testing.T, item ttlv.TTLV, depth int) {
	if depth > wire.MaxDepth+1 {
		t.Fatalf("nesting %d got past Check", depth)
	}
	_ = item.Tag().String()
	switch item.Type() {
	case ttlv.TypeStructure:
		for c := item.ValueStructure(); len(c) > 0; c = c.Next() {
			if c.Valid() != nil {
				t.Fatal("a child of a checked structure is invalid")
			}
			walk(t, c[:c.FullLen()], depth+1)
		}
	case ttlv.TypeInteger:
		_ = item.ValueInteger()
	case ttlv.TypeLongInteger:
		_ = item.ValueLongInteger()
	case ttlv.TypeBigInteger:
		_ = item.ValueBigInteger()
	case ttlv.TypeEnumeration:
		_ = item.ValueEnumeration()
	case ttlv.TypeBoolean:
		_ = item.ValueBoolean()
	case ttlv.TypeTextString:
		_ = item.ValueTextString()
	case ttlv.TypeByteString:
		_ = item.ValueByteString()
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		_ = item.ValueDateTime()
	case ttlv.TypeInterval:
		_ = item.ValueInterval()
	default:
		t.Fatalf("type 0x%02x got past Check", byte(item.Type()))
	}
}

// FuzzReadFrame: ReadFrame never panics, never returns more than the
// limit, returns the frame's bytes exactly, and reads the same whether the
// peer's bytes come at once or one by one.
func FuzzReadFrame(f *testing.F) {
	addSeeds(f, func(b []byte) { f.Add(b, uint32(1<<20)) })
	f.Add(hdr(0x420078, 0x01, 8), uint32(8))
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		lim := int(limit % (1 << 21))
		msg, err := wire.ReadFrame(bytes.NewReader(data), lim)
		slow, slowErr := wire.ReadFrame(iotest.OneByteReader(bytes.NewReader(data)), lim)
		if !bytes.Equal(msg, slow) || (err == nil) != (slowErr == nil) {
			t.Fatalf("whole read gave %x, %v; byte by byte %x, %v", msg, err, slow, slowErr)
		}
		switch {
		case err == nil:
			if len(msg) > lim || len(msg) < wire.HeaderLen || !bytes.Equal(msg, data[:len(msg)]) {
				t.Fatalf("frame of %d bytes (limit %d) is not the input's prefix", len(msg), lim)
			}
			if ttlv.TTLV(msg).FullLen() != len(msg) {
				t.Fatal("frame length differs from its header")
			}
		case errors.Is(err, wire.ErrTooLarge):
			if n := binary.BigEndian.Uint32(data[4:8]); uint64(n)+wire.HeaderLen <= uint64(lim) {
				t.Fatalf("refused %d bytes under the limit %d", n, lim)
			}
		case errors.Is(err, io.EOF):
			if len(data) != 0 {
				t.Fatalf("EOF with %d bytes sent", len(data))
			}
		case errors.Is(err, wire.ErrNotStruct), errors.Is(err, wire.ErrMalformed):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// TestDecodeChecksLengthsFirst is the regression test of a FuzzStoredList
// finding: gemalto's decoder allocates what a header claims, so a damaged
// stored attribute list whose outer length says 4 GiB cost 4 GiB and a
// second before failing. Decode now checks the item first.
func TestDecodeChecksLengthsFirst(t *testing.T) {
	inner := append(hdr(0x42000A, 0x07, 4), 'N', 'a', 'm', 'e', 0, 0, 0, 0)
	damaged := append(hdr(0x420091, 0x01, 0xFE0000B8), inner...)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	var v struct {
		AttributeName string
	}
	err := wire.Decode(damaged, &v)
	runtime.ReadMemStats(&ms)
	require.ErrorIs(t, err, wire.ErrMalformed)
	assert.Less(t, ms.TotalAlloc-before, uint64(1<<20), "bytes allocated to refuse it")

	// The same item with its true length decodes; bytes after it (a
	// decoded field runs on into the items that follow) are ignored.
	good := append(append(hdr(0x420091, 0x01, uint32(len(inner))), inner...), 0x42, 0, 0)
	require.NoError(t, wire.Decode(good, &v))
	assert.Equal(t, "Name", v.AttributeName)
}

// TestCheckBoundsBigIntegers is the regression test of a hostile-input
// finding: a Register of a transparent RSA private key with 64 KiB
// numbers held the server's CPU for minutes (recovering the primes of a
// 512-kibit modulus). Check now refuses Big Integers over MaxBigInteger.
func TestCheckBoundsBigIntegers(t *testing.T) {
	big := func(n int) []byte {
		return append(hdr(0x420052, 0x04, uint32(n)), make([]byte, n)...) // Modulus
	}
	msg := func(n int) []byte {
		b := big(n)
		return append(hdr(0x420078, 0x01, uint32(len(b))), b...)
	}
	require.NoError(t, wire.Check(msg(wire.MaxBigInteger)), "a 16384-bit number with its sign byte")
	require.ErrorIs(t, wire.Check(msg(wire.MaxBigInteger+8)), wire.ErrMalformed)
	require.ErrorIs(t, wire.Check(msg(64<<10)), wire.ErrMalformed)
}

// chain nests n structures; the innermost holds leaves Integers.
func chain(n, leaves int) []byte {
	body := []byte{}
	for range leaves {
		body = append(body, append(hdr(0x42000D, 0x02, 4), 0, 0, 0, 1, 0, 0, 0, 0)...)
	}
	for range n {
		body = append(hdr(0x420078, 0x01, uint32(len(body))), body...)
	}
	return body
}

// TestCheckBoundsDecodingWork is the regression test of a FuzzCheck
// finding: gemalto's codec validates a subtree again at every level above
// it, so decoding 300 bytes nested 32 deep (then within MaxDepth) took a
// minute of CPU. Check now stops at 16 levels and at MaxWork, and what it
// accepts decodes quickly.
func TestCheckBoundsDecodingWork(t *testing.T) {
	require.ErrorIs(t, wire.Check(chain(32, 1)), wire.ErrMalformed, "32 deep")
	require.ErrorIs(t, wire.Check(chain(wire.MaxDepth+1, 1)), wire.ErrMalformed)
	require.NoError(t, wire.Check(chain(wire.MaxDepth, 1)))
	wide := chain(wire.MaxDepth, 1000) // 1,000 items at depth 16: 65 million units
	require.ErrorIs(t, wire.Check(wide), wire.ErrMalformed, "deep and wide")

	// The costliest shape Check accepts (about MaxWork) decodes quickly.
	leaves := (wire.MaxWork - (1 << (wire.MaxDepth - 2))) >> (wire.MaxDepth - 1)
	costly := chain(wire.MaxDepth-1, leaves-1)
	require.NoError(t, wire.Check(costly))
	var v struct{ BatchCount int32 }
	start := time.Now()
	_ = wire.Decode(costly, &v)
	assert.Less(t, time.Since(start), 2*time.Second, "decoding the costliest accepted message")
	t.Logf("%d bytes at depth %d decoded in %s", len(costly), wire.MaxDepth-1, time.Since(start))
}
