package audit

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends the JSON of r to dst, byte for byte what
// json.Marshal(r) makes (TestAppendRecordMatchesMarshal holds it to
// that), without reflection or allocation: every KMIP request waits for
// its record, so the encoder is on the hot path of every operation.
func appendRecord(dst []byte, r *Record) ([]byte, error) {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"time":`...)
	var err error
	if dst, err = appendTime(dst, r.Time); err != nil {
		return dst, err
	}
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, r.Source)
	dst = appendOptional(dst, `,"tenant":`, r.Tenant)
	dst = appendOptional(dst, `,"client":`, r.Client)
	dst = appendOptional(dst, `,"fingerprint":`, r.Fingerprint)
	dst = appendOptional(dst, `,"remote":`, r.Remote)
	dst = append(dst, `,"operation":`...)
	dst = appendString(dst, r.Operation)
	dst = appendOptional(dst, `,"unique_id":`, r.UniqueID)
	dst = append(dst, `,"result":`...)
	dst = appendString(dst, r.Result)
	dst = appendOptional(dst, `,"reason":`, r.Reason)
	if t := r.Torn; t != nil {
		dst = append(dst, `,"torn":{"segment":`...)
		dst = strconv.AppendInt(dst, int64(t.Segment), 10)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, t.Offset, 10)
		dst = append(dst, `,"bytes":`...)
		dst = strconv.AppendInt(dst, int64(t.Bytes), 10)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendTime is time.Time's MarshalJSON: RFC 3339 with nanoseconds, for
// the years it accepts; the others get its error.
func appendTime(dst []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		_, err := json.Marshal(t)
		return dst, err
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

func appendOptional(dst []byte, field, s string) []byte {
	if s == "" {
		return dst
	}
	return appendString(append(dst, field...), s)
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does (with its default HTML
// escaping): ", \ and control characters escaped, <, > and & as \u00XX,
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
