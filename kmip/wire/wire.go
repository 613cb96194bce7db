package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gemalto/kmip-go/ttlv"
)

// HeaderLen is the size of a TTLV item header: tag (3), type (1), length (4).
const HeaderLen = 8

// MaxDepth bounds the nesting of structures: twice the deepest message of
// the OASIS test vectors (8: a message, a batch item, a payload, an
// object, its key block, its wrapping data and what that holds).
const MaxDepth = 16

// MaxWork bounds the decoding work nesting causes. gemalto's codec
// validates a structure's whole subtree again for every level above it
// (ttlv.TTLV.Next calls Valid), so decoding costs about 2^depth per item:
// 300 bytes nested 32 deep took a minute of CPU. Check adds up 2^depth
// over the items and refuses a message over MaxWork (about 50 ms of
// decoding here); the OASIS vectors stay under 2,000, a Create with
// 20,000 attributes under 2 million.
const MaxWork = 1 << 22

// MaxBigInteger bounds the length of a Big Integer value: a 16384-bit
// number with its sign byte, padded. No KMIP object carries a larger one
// (RSA moduli and DSA/DH primes stop well below), and arithmetic on
// numbers of hundreds of kilobits (a 64 KiB modulus fits in a message)
// would hold a CPU for minutes.
const MaxBigInteger = 16384/8 + 8

// Errors of framing and well-formedness. All of them mean the peer sent
// something that is not a KMIP message: the server answers Invalid Message.
var (
	ErrTooLarge  = errors.New("message length over the limit")
	ErrNotStruct = errors.New("message is not a TTLV structure")
	ErrMalformed = errors.New("malformed TTLV")
)

// ReadFrame reads one TTLV message from r. The 8-byte header is read first;
// a body longer than limit is refused with ErrTooLarge without being read
// or allocated. io.EOF means the peer closed cleanly between messages.
func ReadFrame(r io.Reader, limit int) ([]byte, error) {
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated header", ErrMalformed)
		}
		return nil, err
	}
	if ttlv.Type(hdr[3]) != ttlv.TypeStructure {
		return hdr[:], fmt.Errorf("%w: type 0x%02x", ErrNotStruct, hdr[3])
	}
	n := binary.BigEndian.Uint32(hdr[4:8])
	if uint64(n)+HeaderLen > uint64(limit) {
		return hdr[:], fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, uint64(n)+HeaderLen, limit)
	}
	msg := make([]byte, HeaderLen+int(n))
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[HeaderLen:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: body shorter than its length", ErrMalformed)
		}
		return nil, err
	}
	return msg, nil
}

// Check verifies that msg is exactly one well-formed TTLV item: every
// header has a KMIP tag prefix (0x42 standard, 0x54 extension), a known
// type and the length that type requires; padding is present and zero;
// booleans are 0 or 1; text is valid UTF-8; Big Integers are at most
// MaxBigInteger bytes; structures hold exactly their children; nesting
// stays within MaxDepth and MaxWork.
func Check(msg []byte) error {
	var work int
	rest, err := checkItem(msg, 0, &work)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return nil
}

// checkItem checks the item at the start of b and returns what follows it;
// it adds the item's decoding work (2^depth) to *work.
func checkItem(b []byte, depth int, work *int) ([]byte, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: truncated header", ErrMalformed)
	}
	tag := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	if *work += 1 << depth; *work > MaxWork {
		return nil, fmt.Errorf("%w: nesting too costly to decode (over %d units of work)", ErrMalformed, MaxWork)
	}
	if b[0] != 0x42 && b[0] != 0x54 {
		return nil, fmt.Errorf("%w: tag 0x%06x outside the KMIP ranges", ErrMalformed, tag)
	}
	typ := ttlv.Type(b[3])
	n := int(binary.BigEndian.Uint32(b[4:8]))
	body := b[HeaderLen:]
	fixed := func(want int) ([]byte, error) {
		if n != want {
			return nil, fmt.Errorf("%w: tag 0x%06x type %s has length %d, want %d", ErrMalformed, tag, typ, n, want)
		}
		if len(body) < 8 {
			return nil, fmt.Errorf("%w: tag 0x%06x value truncated", ErrMalformed, tag)
		}
		if want == 4 && (body[4]|body[5]|body[6]|body[7]) != 0 {
			return nil, fmt.Errorf("%w: tag 0x%06x non-zero padding", ErrMalformed, tag)
		}
		return body[8:], nil
	}
	switch typ {
	case ttlv.TypeInteger, ttlv.TypeEnumeration, ttlv.TypeInterval:
		return fixed(4)
	case ttlv.TypeLongInteger, ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		return fixed(8)
	case ttlv.TypeBoolean:
		rest, err := fixed(8)
		if err != nil {
			return nil, err
		}
		if (body[0]|body[1]|body[2]|body[3]|body[4]|body[5]|body[6]) != 0 || body[7] > 1 {
			return nil, fmt.Errorf("%w: tag 0x%06x boolean is not 0 or 1", ErrMalformed, tag)
		}
		return rest, nil
	case ttlv.TypeBigInteger:
		if n%8 != 0 || n == 0 {
			return nil, fmt.Errorf("%w: tag 0x%06x big integer length %d is not a positive multiple of 8", ErrMalformed, tag, n)
		}
		if n > MaxBigInteger {
			return nil, fmt.Errorf("%w: tag 0x%06x big integer of %d bytes, limit %d", ErrMalformed, tag, n, MaxBigInteger)
		}
		if len(body) < n {
			return nil, fmt.Errorf("%w: tag 0x%06x value truncated", ErrMalformed, tag)
		}
		return body[n:], nil
	case ttlv.TypeTextString, ttlv.TypeByteString:
		padded := (n + 7) &^ 7
		if n < 0 || len(body) < padded {
			return nil, fmt.Errorf("%w: tag 0x%06x value truncated", ErrMalformed, tag)
		}
		for _, p := range body[n:padded] {
			if p != 0 {
				return nil, fmt.Errorf("%w: tag 0x%06x non-zero padding", ErrMalformed, tag)
			}
		}
		if typ == ttlv.TypeTextString && !utf8.Valid(body[:n]) {
			return nil, fmt.Errorf("%w: tag 0x%06x text is not UTF-8", ErrMalformed, tag)
		}
		return body[padded:], nil
	case ttlv.TypeStructure:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, MaxDepth)
		}
		if len(body) < n {
			return nil, fmt.Errorf("%w: tag 0x%06x structure truncated", ErrMalformed, tag)
		}
		inner := body[:n]
		for len(inner) > 0 {
			var err error
			if inner, err = checkItem(inner, depth+1, work); err != nil {
				return nil, err
			}
		}
		return body[n:], nil
	default:
		return nil, fmt.Errorf("%w: tag 0x%06x unknown type 0x%02x", ErrMalformed, tag, byte(typ))
	}
}

// Decode unmarshals a checked TTLV item into v with gemalto's reflection
// decoder, turning the panics it raises on some type mismatches into
// errors. It reports the first line of the decoder's error only: the rest
// is a stack trace.
//
// The item (bytes after it are ignored) is checked first, as Check does:
// the codec trusts lengths and allocates what a header claims, so a
// damaged record (a stored attribute list whose length says 4 GiB) would
// otherwise cost gigabytes before failing.
func Decode(item ttlv.TTLV, v any) (err error) {
	var work int
	if _, err := checkItem(item, 0, &work); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrMalformed, item.Tag(), r)
		}
	}()
	if err := ttlv.Unmarshal(item, v); err != nil {
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("%w: %s: %s", ErrMalformed, item.Tag(), msg)
	}
	return nil
}
