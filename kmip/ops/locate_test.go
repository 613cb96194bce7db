package ops_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// locateVersions are the two wire forms of Locate: 1.x Attribute items
// and the 2.x Attributes structure.
var locateVersions = []message.Version{message.V1_4, message.V2_1}

// locateOpts are Locate's fields besides the attributes.
type locateOpts struct {
	MaximumItems      int32
	OffsetItems       int32
	StorageStatusMask int32
	ObjectGroupMember kmip14.ObjectGroupMember
}

// locatePayload is a Locate payload in version v's form.
func locatePayload(v message.Version, o locateOpts, attrs ...kmiptest.Attr1) any {
	if v.AtLeast(message.V2_0) {
		return struct {
			MaximumItems      int32                    `ttlv:",omitempty"`
			OffsetItems       int32                    `ttlv:",omitempty"`
			StorageStatusMask int32                    `ttlv:",omitempty"`
			ObjectGroupMember kmip14.ObjectGroupMember `ttlv:",omitempty"`
			Attributes        ttlv.TTLV
		}{o.MaximumItems, o.OffsetItems, o.StorageStatusMask, o.ObjectGroupMember, kmiptest.Attributes2(attrs...)}
	}
	return struct {
		MaximumItems      int32                    `ttlv:",omitempty"`
		OffsetItems       int32                    `ttlv:",omitempty"`
		StorageStatusMask int32                    `ttlv:",omitempty"`
		ObjectGroupMember kmip14.ObjectGroupMember `ttlv:",omitempty"`
		Attribute         []kmiptest.Attr1
	}{o.MaximumItems, o.OffsetItems, o.StorageStatusMask, o.ObjectGroupMember, attrs}
}

type located struct {
	LocatedItems     *int32
	UniqueIdentifier []string
}

// locateAs runs a Locate as tenant and returns its answer, failing the
// test if Locate fails.
func locateAs(t *testing.T, x *server.Executor, tenant string, v message.Version, o locateOpts, attrs ...kmiptest.Attr1) located {
	t.Helper()
	r, _ := kmiptest.ExecuteAs(t, x, tenant, kmiptest.Request(t, v, kmiptest.Item{Operation: kmip20.OperationLocate, RequestPayload: locatePayload(v, o, attrs...)}))
	require.Len(t, r.BatchItem, 1)
	it := r.BatchItem[0]
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, "%s: %s", it.ResultReason, it.ResultMessage)
	var got located
	kmiptest.Decode(t, it.ResponsePayload, &got)
	return got
}

// locate runs a Locate as kmiptest.Tenant and returns the identifiers.
func locate(t *testing.T, x *server.Executor, v message.Version, attrs ...kmiptest.Attr1) []string {
	t.Helper()
	return locateAs(t, x, kmiptest.Tenant, v, locateOpts{}, attrs...).UniqueIdentifier
}

// locateFails runs a Locate that must fail and returns its reason.
func locateFails(t *testing.T, x *server.Executor, v message.Version, o locateOpts, attrs ...kmiptest.Attr1) kmip20.ResultReason {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationLocate, locatePayload(v, o, attrs...))
	require.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus, "Locate must fail")
	return it.ResultReason
}

func locName(name string) kmiptest.Attr1 {
	return kmiptest.Attr1{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: name, NameType: kmip14.NameTypeUninterpretedTextString}}
}

func a1(name string, value any) kmiptest.Attr1 {
	return kmiptest.Attr1{AttributeName: name, AttributeValue: value}
}

func symmetricKeys() kmiptest.Attr1 { return a1("Object Type", kmip14.ObjectTypeSymmetricKey) }

// newest lists ids newest first (they were made in the given order).
func newest(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

func TestLocateByName(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			disk := kmiptest.NewAESKey(t, x, v, locName("disk-1"))
			other := kmiptest.NewAESKey(t, x, v, locName("disk-2"), locName("alias"))
			kmiptest.NewAESKey(t, x, v)

			assert.Equal(t, []string{disk}, locate(t, x, v, locName("disk-1")))
			assert.Equal(t, []string{other}, locate(t, x, v, locName("alias")), "any instance of a multi-instance attribute")
			assert.Equal(t, []string{other}, locate(t, x, v, locName("alias"), locName("disk-2")), "two names: both")
			assert.Empty(t, locate(t, x, v, locName("alias"), locName("disk-1")))
			assert.Equal(t, []string{disk}, locate(t, x, v, symmetricKeys(), locName("disk-1")))
			assert.Empty(t, locate(t, x, v, locName("disk")), "names match exactly")
			assert.Empty(t, locate(t, x, v, a1("Name", kmiptest.Name{NameValue: "disk-1", NameType: kmip14.NameTypeURI})), "the Name Type counts")
			assert.Equal(t, []string{disk}, locate(t, x, v, a1("Name", struct{ NameValue string }{"disk-1"})),
				"a Name Value alone matches whatever the type")
			assert.Equal(t, []string{disk}, locate(t, x, v, a1("Name", struct{ NameType kmip14.NameType }{kmip14.NameTypeUninterpretedTextString}), locName("disk-1")))

			got := locateAs(t, x, kmiptest.Tenant, v, locateOpts{}, locName("disk-1"))
			assert.Nil(t, got.LocatedItems, "no Located Items without paging, as in the OASIS vectors")
		})
	}
}

// TestLocateThenGetInOneBatch follows TL-M-3: a Locate that finds one key
// hands it to the next item through the ID Placeholder; one that finds
// several (or none) empties the placeholder so the next item fails.
func TestLocateThenGetInOneBatch(t *testing.T) {
	asi := a1("Application Specific Information", struct {
		ApplicationNamespace string
		ApplicationData      string
	}{"LIBRARY-LTO", "123456789ABCDEF123456789123456789ABCDEF123456789ABCDEF1234000000"})
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			id := kmiptest.NewAESKey(t, x, v, locName("TL-M-1"), a1("Alternative Name", struct {
				AlternativeNameValue string
				AlternativeNameType  kmip14.AlternativeNameType
			}{"XXA012A1", kmip14.AlternativeNameTypeUninterpretedTextString}), asi, a1("x-Barcode", "XXA012A1"))
			batch := func(attrs ...kmiptest.Attr1) []kmiptest.ResponseItem {
				r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, v,
					kmiptest.Item{Operation: kmip20.OperationLocate, UniqueBatchItemID: []byte{1}, RequestPayload: locatePayload(v, locateOpts{}, attrs...)},
					kmiptest.Item{Operation: kmip20.OperationGet, UniqueBatchItemID: []byte{2}, RequestPayload: struct{}{}}))
				return r.BatchItem
			}
			items := batch(symmetricKeys(), asi)
			require.Len(t, items, 2)
			require.Equal(t, kmip14.ResultStatusSuccess, items[0].ResultStatus, items[0].ResultMessage)
			var got located
			kmiptest.Decode(t, items[0].ResponsePayload, &got)
			assert.Equal(t, []string{id}, got.UniqueIdentifier)
			require.Equal(t, kmip14.ResultStatusSuccess, items[1].ResultStatus, items[1].ResultMessage)
			var key kmiptest.UID
			kmiptest.Decode(t, items[1].ResponsePayload, &key)
			assert.Equal(t, id, key.UniqueIdentifier, "Get acted on the located key")

			kmiptest.NewAESKey(t, x, v, asi)
			items = batch(symmetricKeys(), asi)
			require.Equal(t, kmip14.ResultStatusSuccess, items[0].ResultStatus)
			var both located
			kmiptest.Decode(t, items[0].ResponsePayload, &both)
			assert.Len(t, both.UniqueIdentifier, 2)
			require.Len(t, items, 2)
			assert.Equal(t, kmip14.ResultStatusOperationFailed, items[1].ResultStatus, "two keys found: no placeholder")

			// The other structured attributes, whole and in part.
			assert.Equal(t, []string{id}, locate(t, x, v, a1("Alternative Name", struct {
				AlternativeNameValue string
				AlternativeNameType  kmip14.AlternativeNameType
			}{"XXA012A1", kmip14.AlternativeNameTypeUninterpretedTextString})))
			assert.Equal(t, []string{id}, locate(t, x, v, a1("Alternative Name", struct{ AlternativeNameValue string }{"XXA012A1"})))
			assert.Len(t, locate(t, x, v, a1("Application Specific Information", struct{ ApplicationNamespace string }{"LIBRARY-LTO"})), 2)
			assert.Empty(t, locate(t, x, v, a1("Application Specific Information", struct {
				ApplicationNamespace string
				ApplicationData      string
			}{"LIBRARY-LTO", "other"})))
			assert.Equal(t, []string{id}, locate(t, x, v, a1("x-Barcode", "XXA012A1")))
		})
	}
}

// secretData is a Secret Data object (a password), as SASED registers it.
func secretData() any {
	return struct {
		SecretDataType kmip14.SecretDataType
		KeyBlock       kmiptest.KeyBlock
	}{kmip14.SecretDataTypePassword, kmiptest.KeyBlock{KeyFormatType: kmip14.KeyFormatTypeOpaque, KeyValue: kmiptest.KeyValue{KeyMaterial: []byte("password")}}}
}

func registerSecret(t *testing.T, x *server.Executor, v message.Version, attrs ...kmiptest.Attr1) string {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationRegister, kmiptest.Register(v, kmip14.ObjectTypeSecretData, secretData(), attrs...))
	require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	var id kmiptest.UID
	kmiptest.Decode(t, it.ResponsePayload, &id)
	return id.UniqueIdentifier
}

// TestLocateByObjectTypeAndGroup follows SASED-M-2 and -3: secret data
// registered with a name, a group and custom attributes, found by name or
// group and type.
func TestLocateByObjectTypeAndGroup(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			group := a1("Object Group", "SASED-group")
			key1 := kmiptest.NewAESKey(t, x, v, group)
			secret := registerSecret(t, x, v, locName("SASED-name"), group, a1("x-ID", "SASED-M-2"))
			key2 := kmiptest.NewAESKey(t, x, v, group, a1("Object Group", "second"))

			secretType := a1("Object Type", kmip14.ObjectTypeSecretData)
			assert.Equal(t, []string{secret}, locate(t, x, v, locName("SASED-name"), secretType))
			assert.Equal(t, []string{secret}, locate(t, x, v, group, secretType))
			assert.Equal(t, newest(key1, key2), locate(t, x, v, group, symmetricKeys()))
			assert.Equal(t, newest(key1, secret, key2), locate(t, x, v, group))
			assert.Equal(t, []string{key2}, locate(t, x, v, group, a1("Object Group", "second")))
			assert.Empty(t, locate(t, x, v, a1("Object Group", "SASED")))
			assert.Equal(t, newest(key1, secret, key2), locate(t, x, v), "no attribute: every object")
			assert.Equal(t, newest(key1, key2), locate(t, x, v, symmetricKeys(), a1("Cryptographic Algorithm", kmip14.CryptographicAlgorithmAES), a1("Cryptographic Length", int32(256))))
			assert.Empty(t, locate(t, x, v, symmetricKeys(), secretType), "two object types: none")
			assert.Equal(t, []string{secret}, locate(t, x, v, a1("Unique Identifier", secret)))
			assert.Empty(t, locate(t, x, v, a1("Unique Identifier", secret), symmetricKeys()))
		})
	}
}

// TestLocateCustomAttributes: arrays search on custom attributes that are
// not text; the value's TTLV type is part of it.
func TestLocateCustomAttributes(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			a := kmiptest.NewAESKey(t, x, v, a1("x-Slot", int32(7)), a1("x-WWN", []byte{0x50, 0, 0x0c, 0}), a1("x-Gen", int64(1)<<40))
			b := kmiptest.NewAESKey(t, x, v, a1("x-Slot", int32(8)), a1("x-WWN", []byte{0x50, 0, 0x0c}), a1("x-Kind", kmip14.CryptographicAlgorithmAES))
			c := kmiptest.NewAESKey(t, x, v, a1("x-Slot", int64(7)), a1("x-Seen", time.Unix(1700000000, 0)), a1("x-Flag", true))

			assert.Equal(t, []string{a}, locate(t, x, v, a1("x-Slot", int32(7))), "an Integer 7 is not a Long Integer 7")
			assert.Equal(t, []string{c}, locate(t, x, v, a1("x-Slot", int64(7))))
			assert.Equal(t, []string{b}, locate(t, x, v, a1("x-Slot", int32(8))))
			assert.Equal(t, []string{a}, locate(t, x, v, a1("x-WWN", []byte{0x50, 0, 0x0c, 0})))
			assert.Equal(t, []string{b}, locate(t, x, v, a1("x-WWN", []byte{0x50, 0, 0x0c})), "byte strings match exactly, not by prefix")
			assert.Equal(t, []string{a}, locate(t, x, v, a1("x-Gen", int64(1)<<40)))
			assert.Equal(t, []string{b}, locate(t, x, v, a1("x-Kind", kmip14.CryptographicAlgorithmAES)))
			assert.Equal(t, []string{c}, locate(t, x, v, a1("x-Seen", time.Unix(1700000000, 0))))
			assert.Equal(t, []string{c}, locate(t, x, v, a1("x-Flag", true)))
			assert.Empty(t, locate(t, x, v, a1("x-Flag", false)))
			assert.Empty(t, locate(t, x, v, a1("x-Slot", "7")))
			assert.Empty(t, locate(t, x, v, a1("x-Missing", int32(7))), "a custom attribute no object has: no match, not an error")
			assert.Equal(t, []string{a}, locate(t, x, v, a1("x-Slot", int32(7)), a1("x-WWN", []byte{0x50, 0, 0x0c, 0})))
			assert.Empty(t, locate(t, x, v, a1("x-Slot", int32(7)), a1("x-WWN", []byte{0x50, 0, 0x0c})))
		})
	}
}

// TestLocateCustomAttributeAcrossVersions: what a 1.x client set as x-Name
// a 2.x client finds as vendor x, attribute Name, and the reverse.
func TestLocateCustomAttributeAcrossVersions(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	old := kmiptest.NewAESKey(t, x, message.V1_1, a1("x-Serial", []byte{1, 2, 3}))
	recent := kmiptest.NewAESKey(t, x, message.V2_1, a1("x-Serial", []byte{4, 5}))
	assert.Equal(t, []string{old}, locate(t, x, message.V2_1, a1("x-Serial", []byte{1, 2, 3})))
	assert.Equal(t, []string{recent}, locate(t, x, message.V1_1, a1("x-Serial", []byte{4, 5})))
}

func TestLocateByDate(t *testing.T) {
	at := func(year int) time.Time { return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			start := time.Now().Add(-2 * time.Second)
			// Activation Dates in the future keep the keys Pre-Active.
			k2040 := kmiptest.NewAESKey(t, x, v, a1("Activation Date", at(2040)))
			k2041 := kmiptest.NewAESKey(t, x, v, a1("Activation Date", at(2041)))
			k2042 := kmiptest.NewAESKey(t, x, v, a1("Activation Date", at(2042)))
			undated := kmiptest.NewAESKey(t, x, v)
			end := time.Now().Add(2 * time.Second)

			activation := func(years ...int) []kmiptest.Attr1 {
				var out []kmiptest.Attr1
				for _, y := range years {
					out = append(out, a1("Activation Date", at(y)))
				}
				return out
			}
			assert.Equal(t, []string{k2041}, locate(t, x, v, activation(2041)...), "one date: that date")
			assert.Empty(t, locate(t, x, v, a1("Activation Date", at(2041).Add(time.Second))))
			assert.Equal(t, newest(k2040, k2041), locate(t, x, v, activation(2040, 2041)...), "two dates: the range, limits included")
			assert.Equal(t, newest(k2041, k2042), locate(t, x, v, activation(2043, 2041)...), "in either order")
			assert.Equal(t, newest(k2040, k2041, k2042), locate(t, x, v, activation(2000, 2100)...))
			assert.Empty(t, locate(t, x, v, activation(2030, 2039)...))
			assert.Equal(t, newest(k2040, k2041, k2042, undated), locate(t, x, v, a1("Initial Date", start), a1("Initial Date", end)))
			assert.Empty(t, locate(t, x, v, a1("Initial Date", end), a1("Initial Date", end.Add(time.Hour))))
			assert.Equal(t, []string{k2042}, locate(t, x, v, a1("Activation Date", at(2042)), a1("Initial Date", start), a1("Initial Date", end)))

			assert.Equal(t, kmip20.ResultReasonInvalidField, locateFails(t, x, v, locateOpts{}, activation(2040, 2041, 2042)...), "three dates")
		})
	}
}

func TestLocateByUsageMask(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			// CreateAES sets Encrypt|Decrypt; a later instance of the mask
			// would be a second value, so these keys get theirs through
			// their own attribute list.
			both := kmiptest.NewAESKey(t, x, v)
			mask := func(m kmip14.CryptographicUsageMask) kmiptest.Attr1 { return a1("Cryptographic Usage Mask", m) }
			assert.Equal(t, []string{both}, locate(t, x, v, mask(kmip14.CryptographicUsageMaskEncrypt)), "the object's mask holds the bit")
			assert.Equal(t, []string{both}, locate(t, x, v, mask(kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt)))
			assert.Empty(t, locate(t, x, v, mask(kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskSign)), "every bit asked for")
			assert.Empty(t, locate(t, x, v, mask(kmip14.CryptographicUsageMaskWrapKey)))
			assert.Equal(t, []string{both}, locate(t, x, v, mask(0)), "no bit asked for: any mask")

			secret := registerSecret(t, x, v, mask(kmip14.CryptographicUsageMaskEncrypt))
			assert.Equal(t, newest(both, secret), locate(t, x, v, mask(kmip14.CryptographicUsageMaskEncrypt)))
			assert.Equal(t, []string{both}, locate(t, x, v, mask(kmip14.CryptographicUsageMaskDecrypt)))
		})
	}
}

func TestLocatePaging(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			var made []string
			for i := range 7 {
				made = append(made, kmiptest.NewAESKey(t, x, v, a1("Object Group", "paged"), locName(fmt.Sprint("k", i))))
			}
			kmiptest.NewAESKey(t, x, v, a1("Object Group", "other"))
			all := newest(made...)
			group := a1("Object Group", "paged")

			tests := []struct {
				max, offset int32
				want        []string
			}{
				{2, 0, all[:2]},
				{2, 2, all[2:4]},
				{2, 6, all[6:]},
				{0, 3, all[3:]},
				{10, 0, all},
				{3, 7, nil},
				{1, 100, nil},
			}
			for _, tc := range tests {
				got := locateAs(t, x, kmiptest.Tenant, v, locateOpts{MaximumItems: tc.max, OffsetItems: tc.offset}, group)
				assert.Equal(t, tc.want, got.UniqueIdentifier, "max %d offset %d", tc.max, tc.offset)
				require.NotNil(t, got.LocatedItems, "Located Items when paging")
				assert.Equal(t, int32(len(all)), *got.LocatedItems, "Located Items counts every match")
			}

			// Walking pages newest first visits every key once.
			var walked []string
			for offset := int32(0); ; offset += 3 {
				page := locateAs(t, x, kmiptest.Tenant, v, locateOpts{MaximumItems: 3, OffsetItems: offset}, group).UniqueIdentifier
				if len(page) == 0 {
					break
				}
				walked = append(walked, page...)
			}
			assert.Equal(t, all, walked)

			// Paging applies after every filter, the ones no index holds too.
			got := locateAs(t, x, kmiptest.Tenant, v, locateOpts{MaximumItems: 2, OffsetItems: 1}, group,
				a1("Cryptographic Usage Mask", kmip14.CryptographicUsageMaskEncrypt))
			assert.Equal(t, all[1:3], got.UniqueIdentifier)
			assert.Equal(t, int32(len(all)), *got.LocatedItems)

			assert.Equal(t, kmip20.ResultReasonInvalidField, locateFails(t, x, v, locateOpts{MaximumItems: -1}, group))
			assert.Equal(t, kmip20.ResultReasonInvalidField, locateFails(t, x, v, locateOpts{OffsetItems: -1}, group))
		})
	}

	t.Run("1.2 has no Located Items", func(t *testing.T) {
		x := kmiptest.NewExecutor(t)
		a := kmiptest.NewAESKey(t, x, message.V1_2)
		b := kmiptest.NewAESKey(t, x, message.V1_2)
		got := locateAs(t, x, kmiptest.Tenant, message.V1_2, locateOpts{MaximumItems: 1}, symmetricKeys())
		assert.Equal(t, []string{b}, got.UniqueIdentifier, "newest first")
		assert.Nil(t, got.LocatedItems)
		assert.Equal(t, newest(a, b), locate(t, x, message.V1_2, symmetricKeys()))
	})
}

// TestLocateMaximumItemsOneKeepsThePlaceholder: with Maximum Items 1 the
// one object returned feeds the next item even if more match.
func TestLocateMaximumItemsOneKeepsThePlaceholder(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	kmiptest.NewAESKey(t, x, message.V1_4)
	last := kmiptest.NewAESKey(t, x, message.V1_4)
	r, _ := kmiptest.Execute(t, x, kmiptest.Request(t, message.V1_4,
		kmiptest.Item{Operation: kmip20.OperationLocate, RequestPayload: locatePayload(message.V1_4, locateOpts{MaximumItems: 1}, symmetricKeys())},
		kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: struct{}{}}))
	require.Len(t, r.BatchItem, 2)
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus, r.BatchItem[1].ResultMessage)
	var got kmiptest.UID
	kmiptest.Decode(t, r.BatchItem[1].ResponsePayload, &got)
	assert.Equal(t, last, got.UniqueIdentifier)
}

// TestLocateLeavesDestroyedObjectsOut follows SKFF-M-5: once destroyed, a
// key is not found, even by its Unique Identifier, unless the request asks
// for destroyed objects.
func TestLocateLeavesDestroyedObjectsOut(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			id := kmiptest.NewAESKey(t, x, v, locName("SKFF-M-5"))
			kept := kmiptest.NewAESKey(t, x, v, locName("kept"))
			assert.Equal(t, []string{id}, locate(t, x, v, symmetricKeys(), locName("SKFF-M-5")))
			it := kmiptest.Exec1(t, x, v, kmip20.OperationDestroy, kmiptest.UID{UniqueIdentifier: id})
			require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)

			assert.Empty(t, locate(t, x, v, a1("Unique Identifier", id)))
			assert.Equal(t, []string{kept}, locate(t, x, v, symmetricKeys()))
			assert.Equal(t, []string{id}, locate(t, x, v, a1("State", kmip14.StateDestroyed)), "a destroyed State asks for destroyed objects")
			if v.AtLeast(message.V2_0) {
				destroyed := locateAs(t, x, kmiptest.Tenant, v, locateOpts{StorageStatusMask: message.StorageDestroyed}, symmetricKeys())
				assert.Equal(t, []string{id}, destroyed.UniqueIdentifier, "Destroyed Storage alone")
				both := locateAs(t, x, kmiptest.Tenant, v, locateOpts{StorageStatusMask: message.StorageDestroyed | message.StorageOnline}, symmetricKeys())
				assert.Equal(t, newest(id, kept), both.UniqueIdentifier)
			} else {
				assert.Equal(t, kmip20.ResultReasonInvalidField, locateFails(t, x, v, locateOpts{StorageStatusMask: message.StorageDestroyed}), "1.x has no Destroyed Storage")
			}
		})
	}
}

// TestLocateStorageStatusMask: archived objects (the store's Archived
// column, set here directly for want of an Archive operation) are found
// only when the mask asks for archival storage.
func TestLocateStorageStatusMask(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x, st := kmiptest.NewExecutorWithStore(t, nil)
			online := kmiptest.NewAESKey(t, x, v, a1("Object Group", "g"))
			archived := kmiptest.NewAESKey(t, x, v, a1("Object Group", "g"))
			ctx := context.Background()
			rec, err := st.GetObject(ctx, kmiptest.Tenant, archived)
			require.NoError(t, err)
			rec.Archived = true
			require.NoError(t, st.UpdateObject(ctx, rec))

			group := a1("Object Group", "g")
			mask := func(m int32) []string {
				return locateAs(t, x, kmiptest.Tenant, v, locateOpts{StorageStatusMask: m}, group).UniqueIdentifier
			}
			assert.Equal(t, []string{online}, locate(t, x, v, group), "on-line only by default")
			assert.Equal(t, []string{online}, mask(message.StorageOnline))
			assert.Equal(t, []string{archived}, mask(message.StorageArchival))
			assert.Equal(t, newest(online, archived), mask(message.StorageOnline|message.StorageArchival))
			assert.Equal(t, kmip20.ResultReasonInvalidField, locateFails(t, x, v, locateOpts{StorageStatusMask: 0x10}, group))
		})
	}
}

// TestLocateKeepsTenantsApart runs two tenants on one executor and store:
// neither finds the other's objects, by any filter.
func TestLocateKeepsTenantsApart(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			mine := kmiptest.NewAESKey(t, x, v, locName("shared-name"), a1("x-Slot", int32(1)))
			r, _ := kmiptest.ExecuteAs(t, x, kmiptest.OtherTenant, kmiptest.Request(t, v,
				kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256, locName("shared-name"), a1("x-Slot", int32(1)))}))
			require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, r.BatchItem[0].ResultMessage)
			var theirs kmiptest.UID
			kmiptest.Decode(t, r.BatchItem[0].ResponsePayload, &theirs)

			for _, filter := range [][]kmiptest.Attr1{
				nil,
				{locName("shared-name")},
				{a1("x-Slot", int32(1))},
				{symmetricKeys()},
			} {
				assert.Equal(t, []string{mine}, locate(t, x, v, filter...), "%v", filter)
				assert.Equal(t, []string{theirs.UniqueIdentifier}, locateAs(t, x, kmiptest.OtherTenant, v, locateOpts{}, filter...).UniqueIdentifier, "%v", filter)
			}
			assert.Empty(t, locateAs(t, x, kmiptest.OtherTenant, v, locateOpts{}, a1("Unique Identifier", mine)).UniqueIdentifier)
			assert.Empty(t, locate(t, x, v, a1("Unique Identifier", theirs.UniqueIdentifier)))
			assert.Empty(t, locateAs(t, x, "tenant-new", v, locateOpts{}).UniqueIdentifier, "a tenant with no objects")
			paged := locateAs(t, x, kmiptest.OtherTenant, v, locateOpts{MaximumItems: 10}, symmetricKeys())
			assert.Equal(t, int32(1), *paged.LocatedItems, "counts stay within the tenant")
		})
	}
}

func TestLocateRefusesWhatItCannotSearch(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			kmiptest.NewAESKey(t, x, v)
			tests := []struct {
				name string
				o    locateOpts
				attr []kmiptest.Attr1
			}{
				{"object type as text", locateOpts{}, []kmiptest.Attr1{a1("Object Type", "SymmetricKey")}},
				{"length as a long", locateOpts{}, []kmiptest.Attr1{a1("Cryptographic Length", int64(256))}},
				{"name as text", locateOpts{}, []kmiptest.Attr1{a1("Name", "disk-1")}},
				{"unknown group member", locateOpts{ObjectGroupMember: 7}, nil},
			}
			if !v.AtLeast(message.V2_0) {
				// 2.x attributes are tags: an unknown name cannot be sent.
				tests = append(tests, struct {
					name string
					o    locateOpts
					attr []kmiptest.Attr1
				}{"unknown attribute", locateOpts{}, []kmiptest.Attr1{a1("Favourite Colour", "blue")}})
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					assert.Equal(t, kmip20.ResultReasonInvalidField, locateFails(t, x, v, tc.o, tc.attr...))
				})
			}
		})
	}

	t.Run("2.1 tag that is no attribute", func(t *testing.T) {
		x := kmiptest.NewExecutor(t)
		keyFormat := ttlv.TTLV(mustMarshal(t, struct {
			TTLVTag     struct{} `ttlv:"Attributes"`
			KeyMaterial []byte
		}{KeyMaterial: []byte{1}}))
		it := kmiptest.Exec1(t, x, message.V2_1, kmip20.OperationLocate, struct{ Attributes ttlv.TTLV }{keyFormat})
		assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
		assert.Equal(t, kmip20.ResultReasonInvalidField, it.ResultReason, it.ResultMessage)
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := ttlv.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestLocateByState: the State filter sees the state the dates imply, even
// before a write has stored it.
func TestLocateByState(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	x, _ := kmiptest.NewExecutorWithStore(t, clock)
	v := message.V1_4
	soon := kmiptest.NewAESKey(t, x, v, a1("Activation Date", now.Add(time.Hour)))
	pre := kmiptest.NewAESKey(t, x, v)
	state := func(s kmip14.State) kmiptest.Attr1 { return a1("State", s) }

	assert.Equal(t, newest(soon, pre), locate(t, x, v, state(kmip14.StatePreActive)))
	assert.Empty(t, locate(t, x, v, state(kmip14.StateActive)))

	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	assert.Equal(t, []string{pre}, locate(t, x, v, state(kmip14.StatePreActive)))
	assert.Equal(t, []string{soon}, locate(t, x, v, state(kmip14.StateActive)), "its Activation Date has passed")
	assert.Empty(t, locate(t, x, v, state(kmip14.StateActive), state(kmip14.StatePreActive)), "two states: none")
	assert.Equal(t, newest(soon, pre), locate(t, x, v))
}

// TestLocateObjectGroupMember: Group Member Default is the group's newest
// object; Group Member Fresh leaves out objects marked as served.
func TestLocateObjectGroupMember(t *testing.T) {
	for _, v := range locateVersions {
		t.Run(v.String(), func(t *testing.T) {
			x := kmiptest.NewExecutor(t)
			group := a1("Object Group", "pool")
			first := kmiptest.NewAESKey(t, x, v, group)
			served := kmiptest.NewAESKey(t, x, v, group, a1("Fresh", false))
			last := kmiptest.NewAESKey(t, x, v, group, a1("Fresh", true))

			def := locateAs(t, x, kmiptest.Tenant, v, locateOpts{ObjectGroupMember: kmip14.ObjectGroupMemberGroupMemberDefault}, group)
			assert.Equal(t, []string{last}, def.UniqueIdentifier)
			fresh := locateAs(t, x, kmiptest.Tenant, v, locateOpts{ObjectGroupMember: kmip14.ObjectGroupMemberGroupMemberFresh}, group)
			assert.Equal(t, newest(first, last), fresh.UniqueIdentifier)
			assert.Equal(t, []string{served}, locate(t, x, v, a1("Fresh", false)))
		})
	}
}

// TestLocateFollowsAttributeChanges: what Add, Modify and Delete Attribute
// change is what Locate finds.
func TestLocateFollowsAttributeChanges(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	v := message.V1_4
	id := kmiptest.NewAESKey(t, x, v, a1("x-Slot", int32(1)))
	change := func(op kmip20.Operation, payload any) {
		t.Helper()
		it := kmiptest.Exec1(t, x, v, op, payload)
		require.Equal(t, kmip14.ResultStatusSuccess, it.ResultStatus, it.ResultMessage)
	}
	type attribute struct {
		AttributeName  string
		AttributeIndex int32 `ttlv:",omitempty"`
		AttributeValue any   `ttlv:",omitempty"`
	}
	type req struct {
		UniqueIdentifier string
		Attribute        attribute
	}
	change(kmip20.OperationAddAttribute, req{id, attribute{AttributeName: "Object Group", AttributeValue: "added"}})
	assert.Equal(t, []string{id}, locate(t, x, v, a1("Object Group", "added")))
	change(kmip20.OperationModifyAttribute, req{id, attribute{AttributeName: "x-Slot", AttributeValue: int32(2)}})
	assert.Empty(t, locate(t, x, v, a1("x-Slot", int32(1))))
	assert.Equal(t, []string{id}, locate(t, x, v, a1("x-Slot", int32(2))))
	change(kmip20.OperationDeleteAttribute, struct {
		UniqueIdentifier string
		AttributeName    string
	}{id, "Object Group"})
	assert.Empty(t, locate(t, x, v, a1("Object Group", "added")))
}
