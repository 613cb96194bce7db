package integration

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests replay what real KMIP clients send (DESIGN.md section 6)
// against the real kmip-adapter binary: vCenter, NetApp ONTAP, a storage
// array of the SASED profile, a tape library of the TL profile, and
// PyKMIP's high-level client. The messages are built by hand (see
// clientwire_test.go) so that versions, batch item ids and attribute
// types are those of the client imitated.

// newerAttributes are the attributes that a client of an older version
// must not be answered, with the version that brought each (KMIP 1.4
// section 3; 2.0 section 4).
var newerAttributes = map[string]string{
	"Alternative Name":        "1.2",
	"Key Value Present":       "1.2",
	"Key Value Location":      "1.2",
	"Original Creation Date":  "1.2",
	"Random Number Generator": "1.3",
	"PKCS#12 Friendly Name":   "1.4",
	"Description":             "1.4",
	"Comment":                 "1.4",
	"Sensitive":               "1.4",
	"Always Sensitive":        "1.4",
	"Extractable":             "1.4",
	"Never Extractable":       "1.4",
	"Key Format Type":         "2.0",
	"Short Unique Identifier": "2.0",
	"NIST Key Type":           "2.0",
	"Protection Storage Mask": "2.0",
	"Quantum Safe":            "2.0",
}

// assertNoNewerAttributes asserts that a Get Attributes answer to w's
// client names no attribute its version lacks.
func (w *wireSession) assertNoNewerAttributes(list []gotAttr) {
	w.t.Helper()
	for _, a := range list {
		if since, ok := newerAttributes[a.Name]; ok {
			assert.False(w.t, since > w.version(), "KMIP %s client answered %s, an attribute of KMIP %s\n%s",
				w.version(), a.Name, since, w.last)
		}
	}
}

// TestVCenterConversation replays vCenter 7.0.3 as captured: everything
// in KMIP 1.1, 8-byte batch item ids on every item, a key created without
// a Name and never activated, three custom attributes added in one
// message. The vcenter certificate has the vsphere profile, so its new
// key must be Active at once; the same Create from another certificate
// gives a Pre-Active key.
func TestVCenterConversation(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	vc := openWire(t, s, "vcenter", 1, 1)

	// DiscoverVersions with a 1.1 header and an empty payload.
	var versions struct{ ProtocolVersion []gkmip.ProtocolVersion }
	vc.decode(vc.call(kmip14.OperationDiscoverVersions, payload()), &versions)
	assert.Contains(t, versions.ProtocolVersion, gkmip.ProtocolVersion{ProtocolVersionMajor: 1, ProtocolVersionMinor: 1},
		"DiscoverVersions must list 1.1\n%s", vc.last)

	// Query (Server Information).
	var query struct {
		Operation            []kmip14.Operation
		VendorIdentification string
	}
	vc.decode(vc.call(kmip14.OperationQuery, payload(
		ttlv.NewValue(kmip14.TagQueryFunction, kmip14.QueryFunctionQueryServerInformation))), &query)
	assert.NotEmpty(t, query.VendorIdentification, "Query Server Information: Vendor Identification\n%s", vc.last)
	assert.Empty(t, query.Operation, "Query asked only for Server Information\n%s", vc.last)

	// Create AES-256, Encrypt|Decrypt, no Name, no Activate.
	id := vc.create()

	// Get Attributes x-Product_Version: not there yet, which is no error.
	productVersion := custom("x-Product_Version", "7.0.3")
	got := vc.getAttributes(id, productVersion)
	assert.Empty(t, got, "a new key has no x-Product_Version\n%s", vc.last)

	// One message, three Add Attribute items.
	added := []sentAttr{
		productVersion,
		custom("x-Vendor", "VMware, Inc."),
		custom("x-Product", "VMware vSphere"),
	}
	items := make([]wireItem, len(added))
	for i, a := range added {
		items[i] = wireItem{kmip14.OperationAddAttribute, payload(
			ttlv.NewValue(kmip14.TagUniqueIdentifier, id), a.wire(false))}
	}
	for i, r := range vc.exchange(items...) {
		if !assert.Equal(t, kmip14.ResultStatusSuccess, r.ResultStatus, "Add Attribute %s: %s: %s\n%s",
			added[i].name, r.ResultReason, r.ResultMessage, vc.last) {
			continue
		}
		var head struct{ UniqueIdentifier string }
		vc.decode(r.Payload, &head)
		assert.Equal(t, id, head.UniqueIdentifier, "Add Attribute %s: Unique Identifier\n%s", added[i].name, vc.last)
		// 1.x answers the attribute added.
		answer := vc.attributesIn(r.Payload)
		if assert.Len(t, answer, 1, "Add Attribute %s answers the attribute\n%s", added[i].name, vc.last) {
			assert.Equal(t, added[i].name, answer[0].Name)
			assert.Equal(t, int32(0), answer[0].Index)
			assertSameValue(t, added[i].encoded(t), answer[0].Value, "Add Attribute %s: value\n%s", added[i].name, vc.last)
		}
	}

	// Get Attributes: State (Active: vsphere profile) and the three.
	got = vc.getAttributes(id, append([]sentAttr{std(kmip14.TagState, nil)}, added...)...)
	attrs := byName(got)
	if assert.Len(t, attrs["State"], 1, "State\n%s", vc.last) {
		assert.Equal(t, uint32(kmip14.StateActive), enumValue(attrs["State"][0]),
			"a key created by the vsphere profile must be Active\n%s", vc.last)
	}
	for _, a := range added {
		vc.assertAttr(attrs, a)
	}
	assert.Len(t, got, 4, "exactly the four attributes asked for\n%s", vc.last)

	// Every attribute: none that 1.1 lacks; activated on create, the key
	// has its Activation Date.
	all := vc.getAttributes(id)
	vc.assertNoNewerAttributes(all)
	assert.Len(t, byName(all)["Activation Date"], 1, "an Active key has an Activation Date\n%s", vc.last)

	// Get: 32 bytes of AES material.
	vc.getKey(id)

	// The same Create from the ordinary client certificate: Pre-Active.
	cl := openWire(t, s, "client", 1, 1)
	other := cl.create()
	state := byName(cl.getAttributes(other, std(kmip14.TagState, nil)))["State"]
	if assert.Len(t, state, 1, "State\n%s", cl.last) {
		assert.Equal(t, uint32(kmip14.StatePreActive), enumValue(state[0]),
			"without the vsphere profile a new key is Pre-Active\n%s", cl.last)
	}
	assert.Empty(t, byName(cl.getAttributes(other))["Activation Date"],
		"a Pre-Active key created without one has no Activation Date\n%s", cl.last)
}

// netappAttributes are the sixteen x-NETAPP-* text attributes an ONTAP
// node sets on a key (names invented after ONTAP's: cluster, node, SVM,
// key identity and usage, software version).
func netappAttributes(cluster, keyID string) []sentAttr {
	return []sentAttr{
		custom("x-NETAPP-ClusterId", cluster),
		custom("x-NETAPP-ClusterName", "cluster-"+cluster[:8]),
		custom("x-NETAPP-NodeId", "4082368507"),
		custom("x-NETAPP-NodeName", "cluster-"+cluster[:8]+"-01"),
		custom("x-NETAPP-VserverId", "1"),
		custom("x-NETAPP-VserverName", "svm_data"),
		custom("x-NETAPP-KeyId", keyID),
		custom("x-NETAPP-KeyTag", "nse-auth"),
		custom("x-NETAPP-KeyUsage", "NSE-AK"),
		custom("x-NETAPP-KeyType", "AES-256-XTS"),
		custom("x-NETAPP-KeyPolicy", "default"),
		custom("x-NETAPP-KeyManagerId", "external"),
		custom("x-NETAPP-Product-Version", "NetApp Release 9.13.1P7"),
		custom("x-NETAPP-Product", "ONTAP"),
		custom("x-NETAPP-CreationTime", "2024-03-05T10:21:33Z"),
		custom("x-NETAPP-Description", "Authentication key for self-encrypting drives"),
	}
}

// TestNetAppONTAPSession replays an ONTAP key server session. It speaks
// KMIP 1.2: ONTAP's documentation found here does not state its version,
// vendors' integration guides list ONTAP as a KMIP 1.2 client, and 1.2 is
// the oldest version with everything ONTAP does (custom text
// attributes, Locate on them). Each key carries sixteen x-NETAPP-*
// attributes; ONTAP finds its keys again by them.
func TestNetAppONTAPSession(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	w := openWire(t, s, "client", 1, 2)

	cluster := randomHex(t, 16)
	keyA, keyB := strings.ToUpper(randomHex(t, 32)), strings.ToUpper(randomHex(t, 32))
	attrsA := netappAttributes(cluster, keyA)
	require.Len(t, attrsA, 16)
	idA := w.create(attrsA...)
	idB := w.create(netappAttributes(cluster, keyB)...)

	assert.Equal(t, []string{idA}, w.locate(custom("x-NETAPP-KeyId", keyA)), "Locate by x-NETAPP-KeyId\n%s", w.last)
	assert.Equal(t, []string{idB}, w.locate(custom("x-NETAPP-KeyId", keyB)), "Locate by x-NETAPP-KeyId\n%s", w.last)
	assert.ElementsMatch(t, []string{idA, idB}, w.locate(custom("x-NETAPP-ClusterId", cluster)),
		"Locate by x-NETAPP-ClusterId\n%s", w.last)
	assert.Equal(t, []string{idA}, w.locate(
		std(kmip14.TagObjectType, kmip14.ObjectTypeSymmetricKey),
		custom("x-NETAPP-ClusterId", cluster),
		custom("x-NETAPP-KeyId", keyA)), "Locate by Object Type and two x-NETAPP attributes\n%s", w.last)
	assert.Empty(t, w.locate(custom("x-NETAPP-KeyId", strings.ToLower(keyA))),
		"Locate compares text exactly\n%s", w.last)

	// Get Attributes of the sixteen: each exactly as sent.
	got := w.getAttributes(idA, attrsA...)
	attrs := byName(got)
	for _, a := range attrsA {
		w.assertAttr(attrs, a)
	}
	assert.Len(t, got, 16, "exactly the sixteen asked for\n%s", w.last)

	// Every attribute: the sixteen among them, nothing 1.2 lacks.
	all := w.getAttributes(idA)
	allAttrs := byName(all)
	for _, a := range attrsA {
		w.assertAttr(allAttrs, a)
	}
	w.assertNoNewerAttributes(all)

	w.getKey(idA)
}

// drive is one self-encrypting drive's secret in the storage array test.
type drive struct {
	attrs  []sentAttr
	slot   sentAttr // x-DriveSlot, an Integer
	serial sentAttr // x-DriveSerial, a Byte String
	band   sentAttr // x-BandSize, a Long Integer
	secret []byte
	id     string
}

// secretData is a Secret Data object: a password in Opaque format.
func secretData(secret []byte) ttlv.Value {
	return ttlv.Value{Tag: kmip14.TagSecretData, Value: gkmip.SecretData{
		SecretDataType: kmip14.SecretDataTypePassword,
		KeyBlock: gkmip.KeyBlock{
			KeyFormatType: kmip14.KeyFormatTypeOpaque,
			KeyValue:      &gkmip.KeyValue{KeyMaterial: secret},
		},
	}}
}

// TestStorageArraySecretData replays a storage array of the SASED
// profile: Register Secret Data (a password, Opaque) with an Object Group
// and custom attributes whose types are not text (Integer, Byte String,
// Long Integer, Enumeration), Locate by group and type and by the custom
// attributes, Get Attributes, Get, Destroy; at KMIP 1.4 and 2.0 (where
// the custom attributes travel as vendor attributes).
func TestStorageArraySecretData(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	for _, v := range []struct{ major, minor int }{{1, 4}, {2, 0}} {
		t.Run(fmt.Sprintf("KMIP_%d_%d", v.major, v.minor), func(t *testing.T) {
			t.Parallel()
			w := openWire(t, s, "client", v.major, v.minor)
			storageArray(t, w)
		})
	}
}

func storageArray(t *testing.T, w *wireSession) {
	group := std(kmip14.TagObjectGroup, "sased-"+randomHex(t, 8))
	slotBase := int32(randomUint32(t) >> 2)
	bandBase := int64(randomUint32(t))<<20 + 1
	locking := custom("x-LockingState", ttlv.EnumValue(2))
	secretType := std(kmip14.TagObjectType, kmip14.ObjectTypeSecretData)

	drives := make([]*drive, 3)
	for i := range drives {
		serial, err := hex.DecodeString(randomHex(t, 12))
		require.NoError(t, err)
		secret, err := hex.DecodeString(randomHex(t, 32))
		require.NoError(t, err)
		d := &drive{
			slot:   custom("x-DriveSlot", slotBase+int32(i)),
			serial: custom("x-DriveSerial", serial),
			band:   custom("x-BandSize", bandBase+int64(i)),
			secret: secret,
		}
		d.attrs = []sentAttr{
			group,
			std(kmip14.TagName, ttlv.Values{
				ttlv.NewValue(kmip14.TagNameValue, "sased-drive-"+randomHex(t, 8)),
				ttlv.NewValue(kmip14.TagNameType, kmip14.NameTypeUninterpretedTextString),
			}),
			d.slot, d.serial, d.band, locking,
		}
		var reg struct{ UniqueIdentifier string }
		w.decode(w.call(kmip14.OperationRegister, payload(
			ttlv.NewValue(kmip14.TagObjectType, kmip14.ObjectTypeSecretData),
			w.template(d.attrs...),
			secretData(secret))), &reg)
		require.NotEmpty(t, reg.UniqueIdentifier, "Register: Unique Identifier\n%s", w.last)
		d.id = reg.UniqueIdentifier
		recordKey(d.id, secret)
		drives[i] = d
	}
	// A key in the same group, which a Locate by type must leave out.
	key := w.create(group)

	ids := func(ds ...*drive) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.id)
		}
		return out
	}
	assert.ElementsMatch(t, append(ids(drives...), key), w.locate(group), "Locate by Object Group\n%s", w.last)
	assert.ElementsMatch(t, ids(drives...), w.locate(group, secretType), "Locate by Object Group and Object Type\n%s", w.last)
	assert.Equal(t, ids(drives[1]), w.locate(drives[1].slot), "Locate by an Integer custom attribute\n%s", w.last)
	assert.Equal(t, ids(drives[1]), w.locate(group, secretType, drives[1].slot),
		"Locate by group, type and an Integer custom attribute\n%s", w.last)
	assert.Equal(t, ids(drives[2]), w.locate(drives[2].serial), "Locate by a Byte String custom attribute\n%s", w.last)
	assert.Equal(t, ids(drives[0]), w.locate(drives[0].band), "Locate by a Long Integer custom attribute\n%s", w.last)
	assert.ElementsMatch(t, ids(drives...), w.locate(group, locking), "Locate by an Enumeration custom attribute\n%s", w.last)
	assert.Empty(t, w.locate(group, custom("x-LockingState", ttlv.EnumValue(3))),
		"Locate by an Enumeration value no object has\n%s", w.last)

	// Get Attributes: every attribute sent, with its type.
	d := drives[1]
	names := append([]sentAttr{secretType}, d.attrs...)
	got := w.getAttributes(d.id, names...)
	attrs := byName(got)
	w.assertAttr(attrs, secretType)
	for _, a := range d.attrs {
		w.assertAttr(attrs, a)
	}
	assert.Len(t, got, len(names), "exactly the attributes asked for\n%s", w.last)

	// Get: the same secret back.
	var resp getResponse
	w.decode(w.call(kmip14.OperationGet, payload(ttlv.NewValue(kmip14.TagUniqueIdentifier, d.id))), &resp)
	assert.Equal(t, d.id, resp.UniqueIdentifier, "Get: Unique Identifier\n%s", w.last)
	require.Equal(t, kmip14.ObjectTypeSecretData, resp.ObjectType, "Get: Object Type\n%s", w.last)
	require.NotNil(t, resp.SecretData, "Get: Secret Data\n%s", w.last)
	assert.Equal(t, kmip14.SecretDataTypePassword, resp.SecretData.SecretDataType, "Get: Secret Data Type\n%s", w.last)
	assert.Equal(t, d.secret, w.keyBlock(resp.SecretData.KeyBlock, kmip14.KeyFormatTypeOpaque), "Get: the secret registered\n%s", w.last)

	// Destroy: Locate finds it no more.
	w.destroy(d.id)
	assert.ElementsMatch(t, ids(drives[0], drives[2]), w.locate(group, secretType), "Locate by group and type after Destroy\n%s", w.last)
	assert.Empty(t, w.locate(d.slot), "Locate by the custom attribute of a destroyed object\n%s", w.last)
	assert.Empty(t, w.locate(d.serial), "Locate by the custom attribute of a destroyed object\n%s", w.last)
}

// TestTapeLibrary replays a tape library of the TL profile at KMIP 1.3:
// Create AES-256 with a Name, an Alternative Name and Application
// Specific Information (the cartridge's), Locate by that information,
// Get.
func TestTapeLibrary(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	w := openWire(t, s, "client", 1, 3)

	barcode := strings.ToUpper(randomHex(t, 3)) + "L8"
	asi := func(data string) sentAttr {
		return std(kmip14.TagApplicationSpecificInformation, ttlv.Values{
			ttlv.NewValue(kmip14.TagApplicationNamespace, "LIBRARY-LTO"),
			ttlv.NewValue(kmip14.TagApplicationData, data),
		})
	}
	data := strings.ToUpper(randomHex(t, 32))
	sent := []sentAttr{
		std(kmip14.TagName, ttlv.Values{
			ttlv.NewValue(kmip14.TagNameValue, "TL-"+barcode),
			ttlv.NewValue(kmip14.TagNameType, kmip14.NameTypeUninterpretedTextString),
		}),
		std(kmip14.TagAlternativeName, ttlv.Values{
			ttlv.NewValue(kmip14.TagAlternativeNameValue, barcode),
			ttlv.NewValue(kmip14.TagAlternativeNameType, kmip14.AlternativeNameTypeUninterpretedTextString),
		}),
		asi(data),
		custom("x-Barcode", barcode),
	}
	id := w.create(sent...)
	// Another cartridge's key, in the same namespace.
	other := w.create(asi(strings.ToUpper(randomHex(t, 32))))

	assert.Equal(t, []string{id}, w.locate(asi(data)), "Locate by Application Specific Information\n%s", w.last)
	assert.Equal(t, []string{id}, w.locate(std(kmip14.TagObjectType, kmip14.ObjectTypeSymmetricKey), asi(data)),
		"Locate by Object Type and Application Specific Information\n%s", w.last)
	assert.Equal(t, []string{id}, w.locate(sent[0]), "Locate by Name\n%s", w.last)
	assert.Equal(t, []string{id}, w.locate(sent[1]), "Locate by Alternative Name\n%s", w.last)
	namespace := std(kmip14.TagApplicationSpecificInformation, ttlv.Values{
		ttlv.NewValue(kmip14.TagApplicationNamespace, "LIBRARY-LTO"),
	})
	assert.Subset(t, w.locate(namespace), []string{id, other},
		"Locate by the Application Namespace alone finds every key of the namespace\n%s", w.last)
	assert.NotContains(t, w.locate(asi(data+"0")), id, "Locate by other Application Data\n%s", w.last)
	assert.NotContains(t, w.locate(asi(data+"0")), other, "Locate by other Application Data\n%s", w.last)

	got := w.getAttributes(id, sent...)
	attrs := byName(got)
	for _, a := range sent {
		w.assertAttr(attrs, a)
	}
	assert.Len(t, got, len(sent), "exactly the attributes asked for\n%s", w.last)
	w.assertNoNewerAttributes(w.getAttributes(id))

	w.getKey(id)
}

// pyStep is one step of pykmip_clients.py: its result, or its failure.
type pyStep struct {
	Result json.RawMessage `json:"result"`
	pyFailure
}

// ok asserts that the step succeeded.
func (s pyStep) ok(t *testing.T, name string) bool {
	t.Helper()
	return assert.Nil(t, s.Error, "PyKMIP %s failed: %s (%s %s)", name, deref(s.Error), s.Status, s.Reason)
}

// decode asserts that the step succeeded and decodes its result.
func (s pyStep) decode(t *testing.T, name string, v any) bool {
	t.Helper()
	if !s.ok(t, name) {
		return false
	}
	return assert.NoError(t, json.Unmarshal(s.Result, v), "PyKMIP %s result %s", name, s.Result)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pyAttributes is a get_attributes result.
type pyAttributes struct {
	UID        string                       `json:"uid"`
	Attributes map[string][]json.RawMessage `json:"attributes"`
}

// one returns the only value of the named attribute, as JSON text.
func (a pyAttributes) one(t *testing.T, name string) string {
	t.Helper()
	values := a.Attributes[name]
	if !assert.Len(t, values, 1, "attribute %s in %v", name, a.Attributes) {
		return ""
	}
	return string(values[0])
}

// runPyKMIPClients runs testdata/pykmip_clients.py at version.
func runPyKMIPClients(t *testing.T, s *server, version, name string) map[string]pyStep {
	t.Helper()
	requirePyKMIP(t)
	_, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	argv := []string{"testdata/pykmip_clients.py", "--port", port, "--pki", s.pki(""), "--version", version, "--name", name}
	stdout, stderr, err := runSplit(exec.Command(systemPython, argv...), cmdTimeout)
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", systemPython, argv, err, stdout, stderr)
		}
	}
	var out struct {
		Fatal *pyFailure `json:"fatal"`
	}
	require.NoError(t, json.Unmarshal(stdout, &out), "driver output: %s\nstderr: %s", stdout, stderr)
	require.Nil(t, out.Fatal, "PyKMIP failed: %+v\nstderr: %s", out.Fatal, stderr)
	steps := map[string]pyStep{}
	require.NoError(t, json.Unmarshal(stdout, &steps), "driver output: %s", stdout)
	return steps
}

// TestPyKMIPHighLevel runs PyKMIP's high-level client (ProxyKmipClient)
// through every call it offers for a key's life, at KMIP 1.2 and 2.0:
// create with a Name, locate by it, get_attributes, get_attribute_list,
// check, activate, get, revoke, destroy; register of a key and of a
// password; create_key_pair; at 2.0 set, modify and delete attribute. An
// encrypt with the destroyed key must fail as destroyed (the cryptographic
// operations themselves: TestPyKMIPCrypto).
func TestPyKMIPHighLevel(t *testing.T) {
	t.Parallel()
	s := mainServer(t)
	requirePyKMIP(t)
	for _, version := range []string{"1.2", "2.0"} {
		t.Run("KMIP_"+strings.ReplaceAll(version, ".", "_"), func(t *testing.T) {
			t.Parallel()
			name := "pykmip-" + version + "-" + randomHex(t, 8)
			steps := runPyKMIPClients(t, s, version, name)
			pyHighLevel(t, version, name, steps)
		})
	}
}

func pyHighLevel(t *testing.T, version, name string, steps map[string]pyStep) {
	var uid string
	require.True(t, steps["create"].decode(t, "create", &uid))
	require.NotEmpty(t, uid)

	var found []string
	if steps["locate"].decode(t, "locate", &found) {
		assert.Equal(t, []string{uid}, found, "locate(attributes=[Name])")
	}

	var attrs pyAttributes
	if steps["get_attributes"].decode(t, "get_attributes", &attrs) {
		assert.Equal(t, uid, attrs.UID)
		assert.JSONEq(t, `{"value":"`+name+`","type":"UNINTERPRETED_TEXT_STRING"}`, attrs.one(t, "Name"))
		assert.JSONEq(t, `"PRE_ACTIVE"`, attrs.one(t, "State"))
		assert.JSONEq(t, `"AES"`, attrs.one(t, "Cryptographic Algorithm"))
		assert.JSONEq(t, `256`, attrs.one(t, "Cryptographic Length"))
		assert.JSONEq(t, `12`, attrs.one(t, "Cryptographic Usage Mask"))
		assert.JSONEq(t, `"SYMMETRIC_KEY"`, attrs.one(t, "Object Type"))
	}

	var list []string
	if steps["get_attribute_list"].decode(t, "get_attribute_list", &list) {
		assert.Subset(t, list, []string{"Name", "State", "Cryptographic Algorithm", "Cryptographic Length",
			"Cryptographic Usage Mask", "Object Type", "Unique Identifier", "Initial Date"})
		for _, n := range list {
			if since, ok := newerAttributes[n]; ok {
				assert.False(t, since > version, "get_attribute_list at %s names %s (KMIP %s)", version, n, since)
			}
		}
	}

	var checked string
	if steps["check"].decode(t, "check", &checked) {
		assert.Equal(t, uid, checked)
	}

	steps["activate"].ok(t, "activate")
	if steps["get_attributes_active"].decode(t, "get_attributes_active", &attrs) {
		assert.JSONEq(t, `"ACTIVE"`, attrs.one(t, "State"), "State after activate")
	}
	if steps["locate_active"].decode(t, "locate_active", &found) {
		assert.Equal(t, []string{uid}, found, "locate(Name, State=Active)")
	}
	found = nil
	if steps["locate_pre_active"].decode(t, "locate_pre_active", &found) {
		assert.Empty(t, found, "locate(Name, State=Pre-Active) after activate")
	}

	var key pyKey
	if steps["get"].decode(t, "get", &key) {
		assert.Equal(t, "SYMMETRIC_KEY", key.ObjectType)
		assert.Equal(t, "AES", key.Algorithm)
		assert.Equal(t, 256, key.Length)
		material := key.material(t)
		assert.Len(t, material, 32)
		recordKey(uid, material)
	}

	var rekeyed string
	if steps["rekey"].decode(t, "rekey", &rekeyed) {
		assert.NotEmpty(t, rekeyed)
		assert.NotEqual(t, uid, rekeyed, "rekey makes a new key")
		var newKey pyKey
		if steps["get_rekeyed"].decode(t, "get_rekeyed", &newKey) {
			assert.Equal(t, "AES", newKey.Algorithm)
			assert.Equal(t, 256, newKey.Length)
			assert.Len(t, newKey.material(t), 32)
			assert.NotEqual(t, key.MaterialHex, newKey.MaterialHex, "rekey makes new material")
			recordKey(rekeyed, newKey.material(t))
		}
		var newAttrs map[string][]json.RawMessage
		if steps["get_attributes_rekeyed"].decode(t, "get_attributes_rekeyed", &newAttrs) {
			// KMIP 1.4 section 4.4: the new key is Active (no Offset given,
			// the old key was Active) and takes the old key's Name.
			assert.Equal(t, []json.RawMessage{json.RawMessage(`"ACTIVE"`)}, newAttrs["State"], "State of the rekeyed key")
			if assert.Len(t, newAttrs["Name"], 1, "Name of the rekeyed key") {
				assert.JSONEq(t, `{"value":"`+name+`","type":"UNINTERPRETED_TEXT_STRING"}`, string(newAttrs["Name"][0]))
			}
		}
		steps["revoke_rekeyed"].ok(t, "revoke of the rekeyed key")
		steps["destroy_rekeyed"].ok(t, "destroy of the rekeyed key")
	}

	if version >= "2.0" {
		var contact pyAttributes
		steps["set_attribute"].ok(t, "set_attribute")
		if steps["get_attributes_set"].decode(t, "get_attributes_set", &contact) {
			assert.JSONEq(t, `"pykmip@example.com"`, contact.one(t, "Contact Information"), "after set_attribute")
		}
		steps["modify_attribute"].ok(t, "modify_attribute")
		if steps["get_attributes_modified"].decode(t, "get_attributes_modified", &contact) {
			assert.JSONEq(t, `"security@example.com"`, contact.one(t, "Contact Information"), "after modify_attribute")
		}
		steps["delete_attribute"].ok(t, "delete_attribute (Current Attribute)")
		contact = pyAttributes{}
		if steps["get_attributes_deleted"].decode(t, "get_attributes_deleted", &contact) {
			assert.Empty(t, contact.Attributes["Contact Information"], "after delete_attribute")
		}
		steps["set_attribute_again"].ok(t, "set_attribute")
		// PyKMIP sends Attribute Reference {Vendor Identification "",
		// Attribute Name "Contact Information"} for a standard attribute.
		if steps["delete_attribute_by_reference"].ok(t, "delete_attribute (Attribute Reference as PyKMIP sends it)") {
			contact = pyAttributes{}
			if steps["get_attributes_deleted_by_reference"].decode(t, "get_attributes_deleted_by_reference", &contact) {
				assert.Empty(t, contact.Attributes["Contact Information"], "after delete_attribute by reference")
			}
		}
	}

	steps["revoke"].ok(t, "revoke")
	if steps["get_attributes_revoked"].decode(t, "get_attributes_revoked", &attrs) {
		assert.JSONEq(t, `"DEACTIVATED"`, attrs.one(t, "State"), "State after revoke (Cessation of Operation)")
	}
	steps["destroy"].ok(t, "destroy")

	destroyedReason := "ITEM_NOT_FOUND"
	if version >= "2.0" {
		destroyedReason = "OBJECT_DESTROYED"
	}
	if gone := steps["get_after_destroy"]; assert.NotNil(t, gone.Error, "get after destroy must fail") {
		assert.Equal(t, "OPERATION_FAILED", gone.Status)
		assert.Equal(t, destroyedReason, gone.Reason)
	}
	found = nil
	if steps["locate_after_destroy"].decode(t, "locate_after_destroy", &found) {
		assert.Empty(t, found, "locate(Name) after destroy")
	}

	var regUID string
	if steps["register_key"].decode(t, "register_key", &regUID) {
		if steps["get_registered_key"].decode(t, "get_registered_key", &key) {
			assert.Equal(t, "SYMMETRIC_KEY", key.ObjectType)
			assert.Equal(t, "AES", key.Algorithm)
			assert.Equal(t, 128, key.Length)
			assert.Equal(t, "000102030405060708090a0b0c0d0e0f", key.MaterialHex, "the key registered")
		}
		steps["destroy_registered_key"].ok(t, "destroy of the registered key")
	}

	var secretUID string
	if steps["register_secret"].decode(t, "register_secret", &secretUID) {
		var secret struct {
			ObjectType string `json:"object_type"`
			ValueHex   string `json:"value_hex"`
		}
		if steps["get_secret"].decode(t, "get_secret", &secret) {
			assert.Equal(t, "SECRET_DATA", secret.ObjectType)
			assert.Equal(t, hex.EncodeToString([]byte("correct horse battery staple")), secret.ValueHex)
		}
		steps["destroy_secret"].ok(t, "destroy of the password")
	}

	var pair []string // private and public key identifiers
	if steps["create_key_pair"].decode(t, "create_key_pair", &pair) {
		assert.Len(t, pair, 2, "create_key_pair answers the private and the public key")
	}

	destroyed := "ITEM_NOT_FOUND" // 1.x has no Object Destroyed
	if version == "2.0" {
		destroyed = "OBJECT_DESTROYED"
	}
	if step := steps["encrypt"]; assert.NotNil(t, step.Error, "encrypt with a destroyed key") {
		assert.Equal(t, "OPERATION_FAILED", step.Status, deref(step.Error))
		assert.Equal(t, destroyed, step.Reason, deref(step.Error))
	}
}
