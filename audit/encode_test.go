package audit

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-written encoder must make the bytes json.Marshal makes: the
// MAC covers the line as written, and verify parses it with encoding/json.
func TestAppendRecordMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 1, 123456789, time.UTC)
	tricky := []string{
		"", "plain", `quote " and backslash \`, "<script>&amp;</script>",
		"\x00\x01\b\f\n\r\t\x1f\x7f", "héllo wörld ☃ 𝄞", "\u2028\u2029",
		"bad utf8 \xff\xfe end", "truncated \xe2\x82", "\xc0\xaf overlong", "\xed\xa0\x80 surrogate",
	}
	cases := []struct {
		name string
		rec  Record
	}{
		{"minimal", Record{Seq: 1, Event: Event{Time: at, Source: SourceKMIP, Operation: "Get", Result: "success"}}},
		{"all fields", Record{Seq: 18446744073709551615, Event: Event{
			Time: at, Source: SourceKMIP, Tenant: "acme", Client: "vcenter", Fingerprint: "sha256:ab",
			Remote: "127.0.0.1:5000", Operation: "Get", UniqueID: "1234", Result: "Item_Not_Found", Reason: "no such object",
		}}},
		{"whole seconds", Record{Seq: 2, Event: Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Source: "s", Operation: "o", Result: "r"}}},
		{"zero time", Record{Seq: 3}},
		{"zone offset", Record{Seq: 4, Event: Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 1000, time.FixedZone("x", -(5*3600+30*60))), Source: "s"}}},
		{"torn", Record{Seq: 5, Event: Event{Time: at, Source: SourceAudit, Operation: OpRecovered, Result: "success", Reason: "r"},
			Torn: &Torn{Segment: 3, Offset: 1 << 40, Bytes: -1}}},
	}
	for i, s := range tricky {
		cases = append(cases, struct {
			name string
			rec  Record
		}{"tricky string " + s, Record{Seq: uint64(10 + i), Event: Event{Time: at, Source: s, Tenant: s, Client: s,
			Fingerprint: s, Remote: s, Operation: s, UniqueID: s, Result: s, Reason: s}}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(&tc.rec)
			require.NoError(t, err)
			got, err := appendRecord([]byte("prefix"), &tc.rec)
			require.NoError(t, err)
			assert.Equal(t, "prefix"+string(want), string(got))
		})
	}
}

// Random strings over every byte value, including invalid UTF-8.
func TestAppendStringMatchesMarshalRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\"", "\\", "<", ">", "&", "\u2028", "\u2029", "é", "☃", "𝄞", "\xff", "\xe2\x82"}
	for i := 0; i < 5000; i++ {
		b := make([]byte, 0, 32)
		for j := rng.IntN(24); j > 0; j-- {
			if rng.IntN(2) == 0 {
				b = append(b, byte(rng.IntN(256)))
			} else {
				b = append(b, alphabet[rng.IntN(len(alphabet))]...)
			}
		}
		want, err := json.Marshal(string(b))
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendString(nil, string(b))), "%q", b)
	}
}

// A year json.Marshal refuses is refused, not written differently.
func TestAppendRecordRefusesWhatMarshalRefuses(t *testing.T) {
	r := Record{Seq: 1, Event: Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	_, merr := json.Marshal(&r)
	require.Error(t, merr)
	_, err := appendRecord(nil, &r)
	require.Error(t, err)
}

func TestAppendRecordDoesNotAllocate(t *testing.T) {
	r := Record{Seq: 7, Event: Event{Time: time.Now().UTC(), Source: SourceKMIP, Tenant: "acme", Client: "c",
		Fingerprint: "sha256:00", Remote: "127.0.0.1:1", Operation: "Get", UniqueID: "42", Result: "success"}}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = appendRecord(buf[:0], &r); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
