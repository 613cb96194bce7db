package message

import (
	"math"
	"time"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
)

// The Date-Time values a request may carry. KMIP encodes a Date-Time as
// any signed 64-bit count of seconds (KMIP 1.4 section 9.1.1.4), but the
// peers do not: PyKMIP and RFC 3339 (our JSON and logs) stop at years
// 1-9999, as does PostgreSQL's timestamp range near its ends. A date
// outside would be stored, then break the client that reads it back, so
// it is refused with Invalid Field.
var (
	MinDateTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxDateTime = time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)
)

// Date-Time Extended (KMIP 2.0, microseconds) is decoded through
// nanoseconds in an int64, which wraps beyond ±292 years of 1970: only
// values that survive that conversion are accepted.
const maxDateTimeExtended = math.MaxInt64 / 1000

// CheckDates walks a payload and refuses the first Date-Time or Date-Time
// Extended outside the accepted range. The payload has passed wire.Check,
// which bounds its depth and lengths.
func CheckDates(t ttlv.TTLV) error {
	for len(t) >= 8 {
		if t.ValidHeader() != nil || len(t) < t.FullLen() {
			return nil // malformed: the payload decoder reports it
		}
		switch t.Type() {
		case ttlv.TypeStructure:
			if err := CheckDates(t.ValueStructure()); err != nil {
				return err
			}
		case ttlv.TypeDateTime:
			if s := t.ValueLongInteger(); s < MinDateTime.Unix() || s > MaxDateTime.Unix() {
				return Errorf(kmip20.ResultReasonInvalidField, "%s: Date-Time %d seconds is outside years 1-9999", t.Tag(), s)
			}
		case ttlv.TypeDateTimeExtended:
			us := t.ValueLongInteger()
			if us < -maxDateTimeExtended || us > maxDateTimeExtended {
				return Errorf(kmip20.ResultReasonInvalidField, "%s: Date-Time Extended %d microseconds is outside 1677-2262", t.Tag(), us)
			}
		}
		t = t[t.FullLen():] // not Next, which validates the subtree again
	}
	return nil
}
