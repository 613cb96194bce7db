package ops_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// sklcNames is what the SKLC-M-1 vectors ask of a fresh key, in their
// order; Activation Date is not set and so not answered.
var sklcNames = []string{attr.State, attr.CryptographicUsageMask, attr.UniqueIdentifier, attr.ObjectType,
	attr.CryptographicAlgorithm, attr.CryptographicLength, attr.Digest, attr.InitialDate, attr.LastChangeDate, attr.ActivationDate}

// TestGetAttributesFreshKey follows SKLC-M-1 in every version: the answer
// holds the attributes asked for, in the order asked, with the values the
// vectors show; the Digest is the SHA-256 of the key in Raw format (KMIP
// 1.0: without Key Format Type).
func TestGetAttributesFreshKey(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			id := kmiptest.NewAESKey(t, x, v, kmiptest.Attr1{AttributeName: attr.Name,
				AttributeValue: kmiptest.Name{NameValue: "SKLC-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}})
			got := getAttrs(t, x, v, id, sklcNames...)
			assert.Equal(t, sklcNames[:9], namesOf(got))

			assert.Equal(t, attr.Enum(uint32(kmip14.StatePreActive)), value(t, got, attr.State))
			assert.Equal(t, attr.Int(int32(kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt)), value(t, got, attr.CryptographicUsageMask))
			assert.Equal(t, attr.Text(id), value(t, got, attr.UniqueIdentifier))
			assert.Equal(t, attr.Enum(uint32(kmip14.ObjectTypeSymmetricKey)), value(t, got, attr.ObjectType))
			assert.Equal(t, attr.Enum(uint32(kmip14.CryptographicAlgorithmAES)), value(t, got, attr.CryptographicAlgorithm))
			assert.Equal(t, attr.Int(256), value(t, got, attr.CryptographicLength))
			for _, d := range []string{attr.InitialDate, attr.LastChangeDate} {
				a, _ := got.Get(d)
				at, err := a.Date()
				require.NoError(t, err)
				assert.WithinRange(t, at, before.Truncate(time.Second), time.Now())
			}

			var digest struct {
				HashingAlgorithm kmip14.HashingAlgorithm
				DigestValue      []byte
				KeyFormatType    kmip14.KeyFormatType
			}
			kmiptest.Decode(t, value(t, got, attr.Digest), &digest)
			assert.Equal(t, kmip14.HashingAlgorithmSHA_256, digest.HashingAlgorithm)
			if v == message.V1_0 {
				assert.Zero(t, digest.KeyFormatType, "KMIP 1.0's Digest has no Key Format Type")
			} else {
				assert.Equal(t, kmip14.KeyFormatTypeRaw, digest.KeyFormatType)
			}
			key := getRawKey(t, x, v, id)
			sum := sha256.Sum256(key)
			assert.Equal(t, sum[:], digest.DigestValue, "the digest of the key material")
		})
	}
}

// getRawKey fetches a key's material in Raw format.
func getRawKey(t *testing.T, x *server.Executor, v message.Version, id string) []byte {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.UID{UniqueIdentifier: id})
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var got struct {
		SymmetricKey struct {
			KeyBlock struct {
				KeyValue struct {
					KeyMaterial []byte
				}
			}
		}
	}
	kmiptest.Decode(t, it.ResponsePayload, &got)
	require.NotEmpty(t, got.SymmetricKey.KeyBlock.KeyValue.KeyMaterial)
	return got.SymmetricKey.KeyBlock.KeyValue.KeyMaterial
}

// TestGetAttributesAll: with no names the answer holds every attribute:
// custom ones first in the order they were added, then Unique
// Identifier, Object Type, Cryptographic Algorithm and Length, then the
// others by name (the order of the vectors' SKLC-O-1 and TL-M-3); every
// instance of a multi-instance attribute; nothing the version lacks.
func TestGetAttributesAll(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			nm := func(n string) kmiptest.Attr1 {
				return kmiptest.Attr1{AttributeName: attr.Name, AttributeValue: kmiptest.Name{NameValue: n + "-" + v.String(), NameType: kmip14.NameTypeUninterpretedTextString}}
			}
			id := kmiptest.NewAESKey(t, x, v,
				kmiptest.Attr1{AttributeName: "x-ID", AttributeValue: "TL"},
				nm("b"), nm("a"),
				kmiptest.Attr1{AttributeName: "x-Barcode", AttributeValue: "XXA012A1"},
				kmiptest.Attr1{AttributeName: attr.ContactInformation, AttributeValue: "ops"})
			got := getAttrs(t, x, v, id)
			want := inVersion(v, "x-ID", "x-Barcode", attr.UniqueIdentifier, attr.ShortUniqueIdentifier, attr.ObjectType,
				attr.CryptographicAlgorithm, attr.CryptographicLength, attr.AlwaysSensitive, attr.ContactInformation,
				attr.CryptographicUsageMask, attr.Digest, attr.Extractable, attr.Fresh, attr.InitialDate, attr.KeyFormatType,
				attr.LastChangeDate, attr.LeaseTime, attr.Name, attr.Name, attr.NeverExtractable, attr.OriginalCreationDate,
				attr.ProtectionStorageMask, attr.RandomNumberGenerator, attr.Sensitive, attr.State)
			assert.Equal(t, want, namesOf(got))
			names := got.All(attr.Name)
			require.Len(t, names, 2)
			first, _ := names[0].NameValue()
			assert.Equal(t, "b-"+v.String(), first.NameValue, "instances keep their order")
			if !v.AtLeast(message.V2_0) {
				assert.Equal(t, []int32{0, 1}, []int32{names[0].Index, names[1].Index}, "1.x Attribute Index")
			}
		})
	}
}

// TestGetAttributesPerVersion: an attribute a version lacks is never
// answered to its clients, asked for or not.
func TestGetAttributesPerVersion(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	id := kmiptest.NewAESKey(t, x, message.V2_1)
	for _, a := range []kmiptest.Attr1{
		{AttributeName: attr.Description, AttributeValue: "1.4 on"},
		{AttributeName: "Protection Level", AttributeValue: uint32(1)},
		{AttributeName: "acme-Thing", AttributeValue: int32(7)},
		{AttributeName: "x-Shared", AttributeValue: "everyone"},
	} {
		payload := struct {
			UniqueIdentifier string
			NewAttribute     ttlv.TTLV
		}{id, kmiptest.Wrapped2(kmip20.TagNewAttribute, a)}
		if a.AttributeName == "Protection Level" {
			payload.NewAttribute = attr.Structure(kmip20.TagNewAttribute, attr.Retag(attr.Enum(1), kmip20.TagProtectionLevel))
		}
		it := kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationAddAttribute, payload)
		require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", a.AttributeName, it.ResultMessage)
	}
	all := []string{attr.Description, "Protection Level", "acme-Thing", "x-Shared"}
	for v, want := range map[message.Version][]string{
		message.V1_0: {"x-Shared"},
		message.V1_3: {"x-Shared"},
		message.V1_4: {attr.Description, "x-Shared"},
		message.V2_0: all,
		message.V2_1: all,
	} {
		t.Run(v.String(), func(t *testing.T) {
			var asked []string
			for _, n := range all {
				if v.AtLeast(message.V2_0) || n != "Protection Level" { // a 1.x client cannot even name it
					asked = append(asked, n)
				}
			}
			got := getAttrs(t, x, v, id, asked...)
			assert.ElementsMatch(t, want, namesOf(got), "asked for by name")
			got = getAttrs(t, x, v, id)
			var custom []string
			for _, n := range namesOf(got) {
				for _, w := range all {
					if n == w {
						custom = append(custom, n)
					}
				}
			}
			assert.ElementsMatch(t, want, custom, "all attributes")
		})
	}
}

// TestGetAttributesRequests: names in the 1.0 vectors' spelling, unknown
// and missing names, repeated names, the ID Placeholder, another tenant's
// or a missing object.
func TestGetAttributesRequests(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range attrVersions {
		t.Run(v.String(), func(t *testing.T) {
			id := kmiptest.NewAESKey(t, x, v)
			if !v.AtLeast(message.V2_0) {
				got := getAttrs(t, x, v, id, "Cryptographic   Length", "Frobnication Date", "x-Missing", "State", "State", "Activation   Date")
				assert.Equal(t, []string{attr.CryptographicLength, attr.State}, namesOf(got))
			} else {
				// a reference to a tag that is no attribute is answered nothing
				it := kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributes, struct {
					UniqueIdentifier   string
					AttributeReference []ttlv.TTLV
				}{id, []ttlv.TTLV{kmiptest.Reference2(attr.CryptographicLength), attr.Retag(attr.Enum(uint32(kmip14.TagKeyBlock)), kmip20.TagAttributeReference),
					kmiptest.Reference2("x-Missing"), kmiptest.Reference2(attr.State)}})
				require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
				assert.Equal(t, []string{attr.CryptographicLength, attr.State}, namesOf(attributesIn(t, v, it.ResponsePayload)))
			}

			// the ID Placeholder: Create then Get Attributes without an identifier
			r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v,
				kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 128)},
				kmiptest.Item{Operation: kmip20.OperationGetAttributes, RequestPayload: getAttributesPayload(v, "", attr.CryptographicLength)}))
			require.Len(t, r.BatchItem, 2)
			require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus, r.BatchItem[1].ResultMessage)
			assert.Equal(t, attr.Int(128), value(t, attributesIn(t, v, r.BatchItem[1].ResponsePayload), attr.CryptographicLength))

			it := kmiptest.Exec1(t, x, v, kmip20.OperationGetAttributes, getAttributesPayload(v, "no-such-object"))
			notFound := kmip20.ResultReasonItemNotFound
			if v.AtLeast(message.V2_0) {
				notFound = kmip20.ResultReasonObjectNotFound // BL-M-4-21
			}
			assert.Equal(t, notFound, it.ResultReason)
		})
	}
}

// inVersion keeps the attribute names that version v has, in order.
func inVersion(v message.Version, names ...string) []string {
	var out []string
	for _, n := range names {
		if attr.Known(attr.Version(v), n) {
			out = append(out, n)
		}
	}
	return out
}
