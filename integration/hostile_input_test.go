package integration

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answer is one expected response: its batch items, all failed with
// reason (0: all succeeded), and how many (0 means 1).
type answer struct {
	reason kmip14.ResultReason
	items  int
}

// hostileCase is a hostile request and the answer written for it.
type hostileCase struct {
	name string
	send []byte
	// halfClose ends the client's side after sending (the peer stops
	// mid-frame and waits).
	halfClose bool
	want      []answer
	// closes: after its answers the server closes the connection;
	// otherwise the connection still serves a Discover Versions.
	closes bool
}

func failed(r kmip14.ResultReason) answer { return answer{reason: r} }

var (
	invalidMessage = failed(kmip14.ResultReasonInvalidMessage)
	invalidField   = failed(kmip14.ResultReasonInvalidField)
)

// hostileCases are the hostile inputs, each with the answer the
// server owes: a KMIP error with the right Result Reason, then the
// connection closed or kept.
func hostileCases() []hostileCase {
	dv := batchItem(kmip14.OperationDiscoverVersions)
	good := request14(dv)

	// Nesting: a Request Message whose batch item payload nests n
	// structures.
	nest := func(n int) []byte {
		inner := make([]byte, 0, 8*n) // n headers, each holding the rest
		for i := range n {
			inner = append(inner, item(kmip14.TagRequestPayload, ttlv.TypeStructure, nil)...)
			binary.BigEndian.PutUint32(inner[len(inner)-4:], uint32(8*(n-1-i)))
		}
		return request14(structOf(kmip14.TagBatchItem, enumOf(kmip14.TagOperation, uint32(kmip14.OperationQuery)), inner))
	}

	// 4,000 Get items for identifiers that do not exist.
	var many [][]byte
	for i := range 4000 {
		many = append(many, batchItem(kmip14.OperationGet, textOf(kmip14.TagUniqueIdentifier, "missing-"+string(rune('a'+i%26)))))
	}

	// A transparent RSA private key with 64 KiB numbers: a 512 Kibit
	// modulus, far beyond any key the server makes or checks.
	huge := bigOf(kmip14.TagModulus, 64<<10, 0x7f)
	rsaPriv := structOf(kmip14.TagPrivateKey, structOf(kmip14.TagKeyBlock,
		enumOf(kmip14.TagKeyFormatType, uint32(kmip14.KeyFormatTypeTransparentRSAPrivateKey)),
		structOf(kmip14.TagKeyValue, structOf(kmip14.TagKeyMaterial,
			huge,
			bigOf(kmip14.TagPrivateExponent, 64<<10, 0x3f),
			item(kmip14.TagPublicExponent, ttlv.TypeBigInteger, []byte{0, 0, 0, 0, 0, 1, 0, 1}),
		)),
		enumOf(kmip14.TagCryptographicAlgorithm, uint32(kmip14.CryptographicAlgorithmRSA)),
		intOf(kmip14.TagCryptographicLength, 64<<13),
	))

	// A length field under the body's size: the frame ends inside the
	// Request Header, and what follows is read as the next frame.
	short := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(short[4:], 16)

	return []hostileCase{
		// Framing.
		{name: "truncated header, then the client stops sending", send: good[:5], halfClose: true,
			want: []answer{invalidMessage}, closes: true},
		{name: "length over the body, then the client stops sending", send: good[:len(good)-8], halfClose: true,
			want: []answer{invalidMessage}, closes: true},
		{name: "length under the body", send: short,
			// The first frame is a truncated structure; the rest starts
			// with an Integer, which is no message at all.
			want: []answer{invalidMessage, invalidMessage}, closes: true},
		{name: "inner length over max_message_size", send: func() []byte {
			b := append([]byte(nil), good...)
			binary.BigEndian.PutUint32(b[12:], 0xFFFFFFF0) // the Request Header's length
			return b
		}(), want: []answer{invalidMessage}},

		// Types and well-formedness.
		{name: "unknown type code 0x0C inside", send: request14(structOf(kmip14.TagBatchItem,
			enumOf(kmip14.TagOperation, uint32(kmip14.OperationQuery)), item(kmip14.TagRequestPayload, ttlv.Type(0x0C), make([]byte, 8)))),
			want: []answer{invalidMessage}},
		{name: "unknown type code 0xFF at the top", send: item(kmip14.TagRequestMessage, ttlv.Type(0xFF), make([]byte, 8)),
			want: []answer{invalidMessage}, closes: true},
		// gemalto's codec validates a subtree again at every level above
		// it: 300 bytes nested 32 deep cost a minute of CPU to decode.
		// Nesting stops at 16 levels, and so does work (wire.MaxWork).
		{name: "nesting 17 deep", send: nest(17), want: []answer{invalidMessage}},
		{name: "nesting 32 deep", send: nest(32), want: []answer{invalidMessage}},
		{name: "nesting 100,000 deep", send: nest(100000), want: []answer{invalidMessage}},
		{name: "nesting 12 deep and 10,000 wide", send: func() []byte {
			leaves := bytes.Repeat(intOf(kmip14.TagBatchCount, 1), 10000)
			inner := structOf(kmip14.TagRequestPayload, leaves)
			for range 8 {
				inner = structOf(kmip14.TagRequestPayload, inner)
			}
			return request14(structOf(kmip14.TagBatchItem, enumOf(kmip14.TagOperation, uint32(kmip14.OperationQuery)), inner))
		}(), want: []answer{invalidMessage}},
		{name: "invalid UTF-8 in a Unique Identifier", send: request14(batchItem(kmip14.OperationGet,
			item(kmip14.TagUniqueIdentifier, ttlv.TypeTextString, []byte{0xff, 0xfe, 'a'}))), want: []answer{invalidMessage}},
		{name: "invalid UTF-8 in an attribute name", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(structOf(kmip14.TagAttribute, item(kmip14.TagAttributeName, ttlv.TypeTextString, []byte("x-\xc3\x28")),
				textOf(kmip14.TagAttributeValue, "v"))))), want: []answer{invalidMessage}},

		// Batches.
		{name: "batch count 5 for one item", send: requestOf(1, 4, 5, dv), want: []answer{invalidMessage}},
		{name: "batch count 1 for three items", send: requestOf(1, 4, 1, dv, dv, dv), want: []answer{invalidMessage}},
		{name: "batch count -1", send: requestOf(1, 4, -1, dv), want: []answer{invalidMessage}},
		{name: "4,000 batch items", send: request14(many...),
			// Batch Error Continuation Option Stop (the default): the
			// first failure ends the batch.
			want: []answer{failed(kmip14.ResultReasonItemNotFound)}},
		{name: "4,000 batch items, continue on error", send: func() []byte {
			hdr := structOf(kmip14.TagRequestHeader,
				structOf(kmip14.TagProtocolVersion, intOf(kmip14.TagProtocolVersionMajor, 1), intOf(kmip14.TagProtocolVersionMinor, 4)),
				enumOf(kmip14.TagBatchErrorContinuationOption, uint32(kmip14.BatchErrorContinuationOptionContinue)),
				intOf(kmip14.TagBatchCount, int32(len(many))))
			return structOf(kmip14.TagRequestMessage, append([][]byte{hdr}, many...)...)
		}(), want: []answer{{reason: kmip14.ResultReasonItemNotFound, items: 4000}}},

		// Enumerations.
		{name: "unknown operation", send: request14(batchItem(kmip14.Operation(0xDEADBEEF))),
			want: []answer{failed(kmip14.ResultReasonOperationNotSupported)}},
		{name: "unknown object type", send: request14(batchItem(kmip14.OperationCreate,
			enumOf(kmip14.TagObjectType, 0x7FFFFFFF), structOf(kmip14.TagTemplateAttribute))), want: []answer{invalidField}},
		{name: "unknown cryptographic algorithm", send: request14(batchItem(kmip14.OperationCreate,
			enumOf(kmip14.TagObjectType, uint32(kmip14.ObjectTypeSymmetricKey)),
			structOf(kmip14.TagTemplateAttribute,
				attr14("Cryptographic Algorithm", enumOf(kmip14.TagAttributeValue, 0x7FFFFFFF)),
				attr14("Cryptographic Length", intOf(kmip14.TagAttributeValue, 256))))), want: []answer{invalidField}},
		{name: "unknown batch error continuation option", send: func() []byte {
			hdr := structOf(kmip14.TagRequestHeader,
				structOf(kmip14.TagProtocolVersion, intOf(kmip14.TagProtocolVersionMajor, 1), intOf(kmip14.TagProtocolVersionMinor, 4)),
				enumOf(kmip14.TagBatchErrorContinuationOption, 99),
				intOf(kmip14.TagBatchCount, 1))
			return structOf(kmip14.TagRequestMessage, hdr, dv)
		}(), want: []answer{invalidField}},

		// Numbers.
		// Arithmetic on a 512-kibit modulus held a CPU for minutes: Big
		// Integers over 16384 bits are refused with the message.
		{name: "huge big integers in a transparent RSA key", send: request14(batchItem(kmip14.OperationRegister,
			enumOf(kmip14.TagObjectType, uint32(kmip14.ObjectTypePrivateKey)), structOf(kmip14.TagTemplateAttribute), rsaPriv)),
			want: []answer{invalidMessage}},
		{name: "a big integer where an integer belongs", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Cryptographic Length", bigOf(kmip14.TagAttributeValue, 2048, 0x01))))),
			want: []answer{invalidField}},
		// A Date-Time is a signed 64-bit count of seconds (KMIP 1.4
		// section 9.1.1.4); the server holds requests to years 1-9999
		// (PyKMIP's and RFC 3339's range, message.CheckDates) and answers
		// Invalid Field outside, before the operation runs.
		{name: "activation date at the start of int64", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Activation Date", dateOf(kmip14.TagAttributeValue, math.MinInt64))))),
			want: []answer{invalidField}},
		{name: "activation date at the end of int64", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Activation Date", dateOf(kmip14.TagAttributeValue, math.MaxInt64))))),
			want: []answer{invalidField}},
		{name: "activation date in year 10000", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Activation Date", dateOf(kmip14.TagAttributeValue, 253402300800))))),
			want: []answer{invalidField}},
		{name: "activation date at the last second of 9999 is kept and read back", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Activation Date", dateOf(kmip14.TagAttributeValue, 253402300799)))),
			batchItem(kmip14.OperationGetAttributes, textOf(kmip14.TagAttributeName, "Activation Date"))),
			want: []answer{{items: 2}}},
		{name: "deactivation date at the first second of year 1 is kept", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Deactivation Date", dateOf(kmip14.TagAttributeValue, -62135596800))))),
			want: []answer{{}}},
		{name: "modify attribute to a date before year 1", send: request14(batchItem(kmip14.OperationModifyAttribute,
			textOf(kmip14.TagUniqueIdentifier, "missing"),
			attr14("Deactivation Date", dateOf(kmip14.TagAttributeValue, -62135596801)))),
			want: []answer{invalidField}},
		{name: "negative lease time", send: request14(batchItem(kmip14.OperationCheck,
			textOf(kmip14.TagUniqueIdentifier, "missing"), intervalOf(kmip14.TagLeaseTime, 0xFFFFFFFF))),
			want: []answer{failed(kmip14.ResultReasonItemNotFound)}},
		{name: "re-key offset of 2^32-1 seconds", send: request14(
			batchItem(kmip14.OperationCreate, createAES14(attr14("Activation Date", dateOf(kmip14.TagAttributeValue, time.Now().Unix())))),
			batchItem(kmip14.OperationReKey, intervalOf(kmip14.TagOffset, 0xFFFFFFFF))),
			want: []answer{{items: 2}}},
		{name: "locate with a reversed date range at the ends of int64", send: request14(batchItem(kmip14.OperationLocate,
			attr14("Initial Date", dateOf(kmip14.TagAttributeValue, math.MaxInt64)),
			attr14("Initial Date", dateOf(kmip14.TagAttributeValue, math.MinInt64)))),
			want: []answer{invalidField}},
		{name: "locate with a reversed date range at the ends of years 1-9999", send: request14(batchItem(kmip14.OperationLocate,
			attr14("Initial Date", dateOf(kmip14.TagAttributeValue, 253402300799)),
			attr14("Initial Date", dateOf(kmip14.TagAttributeValue, -62135596800)))),
			want: []answer{{}}},
		{name: "compromise occurrence date before year 1", send: request14(batchItem(kmip14.OperationRevoke,
			textOf(kmip14.TagUniqueIdentifier, "missing"),
			structOf(kmip14.TagRevocationReason, enumOf(kmip14.TagRevocationReasonCode, uint32(kmip14.RevocationReasonCodeKeyCompromise))),
			dateOf(kmip14.TagCompromiseOccurrenceDate, -62135596801))),
			want: []answer{invalidField}},
		{name: "re-key offset of 2^32-1 seconds on a key deactivated in 9999", send: request14(
			batchItem(kmip14.OperationCreate, createAES14(
				attr14("Activation Date", dateOf(kmip14.TagAttributeValue, time.Now().Unix())),
				attr14("Deactivation Date", dateOf(kmip14.TagAttributeValue, 253402300799)))),
			batchItem(kmip14.OperationReKey, intervalOf(kmip14.TagOffset, 0xFFFFFFFF))),
			want: []answer{{items: 2}}},

		// Wrong types for known tags.
		{name: "unique identifier as an integer", send: request14(batchItem(kmip14.OperationGet, intOf(kmip14.TagUniqueIdentifier, 7))),
			want: []answer{invalidField}},
		{name: "batch count as text", send: structOf(kmip14.TagRequestMessage, structOf(kmip14.TagRequestHeader,
			structOf(kmip14.TagProtocolVersion, intOf(kmip14.TagProtocolVersionMajor, 1), intOf(kmip14.TagProtocolVersionMinor, 4)),
			textOf(kmip14.TagBatchCount, "1")), dv), want: []answer{invalidMessage}},
		{name: "protocol version as an integer", send: structOf(kmip14.TagRequestMessage, structOf(kmip14.TagRequestHeader,
			intOf(kmip14.TagProtocolVersion, 0x0104), intOf(kmip14.TagBatchCount, 1)), dv), want: []answer{invalidMessage}},
		{name: "cryptographic length as text", send: request14(batchItem(kmip14.OperationCreate,
			createAES14(attr14("Cryptographic Length", textOf(kmip14.TagAttributeValue, "256"))))),
			want: []answer{invalidField}},
		{name: "2.x attributes as an integer", send: requestOf(2, 1, 1, batchItem(kmip14.OperationCreate,
			enumOf(kmip14.TagObjectType, uint32(kmip14.ObjectTypeSymmetricKey)), intOf(kmip20.TagAttributes, 1))),
			want: []answer{invalidField}},
	}
}

// TestHostileInput sends each hostile case on a connection of its own to
// a server of its own and checks the answer written for it; after each,
// the server still serves a well-behaved client and its memory stays
// bounded.
func TestHostileInput(t *testing.T) {
	s := startHostile(t)
	start := s.rss(t)
	peak := start
	cases := hostileCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := dialTLS(s, s.clientTLS(t))
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			began := time.Now()
			_, err = conn.Write(tc.send)
			require.NoError(t, err)
			if tc.halfClose {
				halfClose(t, conn)
			}
			for i, want := range tc.want {
				resp, err := readAny(conn, 4<<20)
				require.NoError(t, err, "answer %d", i+1)
				items := want.items
				if items == 0 {
					items = 1
				}
				require.Len(t, resp.BatchItem, items, "answer %d: batch items", i+1)
				assert.Equal(t, items, resp.ResponseHeader.BatchCount, "answer %d: batch count", i+1)
				for _, it := range resp.BatchItem {
					if want.reason == 0 {
						if !assert.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "answer %d: %s: %s", i+1, it.ResultReason, it.ResultMessage) {
							break
						}
						continue
					}
					assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus, "answer %d", i+1)
					if !assert.Equal(t, want.reason, it.ResultReason, "answer %d: result message %q", i+1, it.ResultMessage) {
						break
					}
				}
				if len(resp.BatchItem) > 0 {
					t.Logf("answer %d in %s: %s %q", i+1, time.Since(began).Round(time.Millisecond), resp.BatchItem[0].ResultReason, resp.BatchItem[0].ResultMessage)
				}
			}
			if tc.closes {
				_, err := conn.Read(make([]byte, 1))
				require.Error(t, err)
				assert.True(t, closedByPeer(err), "want the server to close the connection, got %v", err)
			} else {
				resp, err := roundTrip(conn, good14(t))
				require.NoError(t, err, "the connection must go on serving")
				require.Len(t, resp.BatchItem, 1)
				assert.Equal(t, kmip14.ResultStatusSuccess, resp.BatchItem[0].ResultStatus)
			}
			rss := assertStillServes(t, s)
			peak = max(peak, rss)
		})
	}
	t.Logf("%d hostile cases; server resident memory %d MiB at the start, %d MiB at most after a case (limit %d MiB)",
		len(cases), start>>20, peak>>20, hostileRSSLimit>>20)
}

// good14 is a well-formed 1.4 Discover Versions request.
func good14(t testing.TB) []byte {
	t.Helper()
	b := request14(batchItem(kmip14.OperationDiscoverVersions))
	require.True(t, bytes.Equal(b, discoverVersionsRequest(t)) || len(b) > 0)
	return b
}
