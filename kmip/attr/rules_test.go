package attr

import (
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	_ "github.com/gemalto/kmip-go/kmip20" // the 2.0 tags in the registry
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRuleTagsMatchTheRegistry checks the table's tags against the codec's
// 1.4 and 2.0 registries (the 2.1 rotation tags are not in them).
func TestRuleTagsMatchTheRegistry(t *testing.T) {
	tags := ttlv.DefaultRegistry.Tags()
	for _, r := range Rules() {
		v, ok := tags.Value(r.Name)
		if !ok {
			v, ok = tags.Value(ttlv.NormalizeName(r.Name))
		}
		if r.Since == V2_1 {
			assert.False(t, ok, "%s: expected to be missing from the 2.0 registry", r.Name)
			continue
		}
		if assert.True(t, ok, "%s: not in the registry", r.Name) {
			assert.Equal(t, ttlv.Tag(v), r.Tag, r.Name)
		}
	}
}

func TestRulesAreConsistent(t *testing.T) {
	tags := map[ttlv.Tag]string{}
	for _, r := range Rules() {
		assert.NotZero(t, r.Type, r.Name)
		assert.NotZero(t, r.InitialBy, r.Name)
		assert.False(t, r.Custom, r.Name)
		if r.Until != (Version{}) {
			assert.True(t, r.Until.AtLeast(r.Since) && r.Until != r.Since, "%s: until before since", r.Name)
		}
		if r.ClientDelete {
			assert.True(t, r.ClientModify, "%s: deletable but read only", r.Name)
		}
		if r.ClientModify {
			assert.True(t, r.Template, "%s: writable later but not at creation", r.Name)
		}
		if r.InitialBy == SetByServer {
			assert.False(t, r.ClientModify, "%s: only the server sets it", r.Name)
		}
		if r.Fields != nil {
			assert.Equal(t, ttlv.TypeStructure, r.Type, r.Name)
		}
		assert.Empty(t, tags[r.Tag], "%s: tag also used by %s", r.Name, tags[r.Tag])
		tags[r.Tag] = r.Name
	}
}

// TestRulesPerVersion checks what the OASIS vectors show per version: a
// fresh key's attribute list grows with Fresh (1.1), Original Creation
// Date (1.2), Random Number Generator (1.3), the 1.4 flags, and the 2.x
// attributes; Operation Policy Name and the 1.0 certificate attributes
// leave with 2.0.
func TestRulesPerVersion(t *testing.T) {
	cases := []struct {
		name  string
		in    []Version
		notIn []Version
	}{
		{UniqueIdentifier, []Version{V1_0, V1_4, V2_0, V2_1}, nil},
		{Fresh, []Version{V1_1, V1_4, V2_1}, []Version{V1_0}},
		{OriginalCreationDate, []Version{V1_2, V2_0}, []Version{V1_0, V1_1}},
		{AlternativeName, []Version{V1_2}, []Version{V1_1}},
		{RandomNumberGenerator, []Version{V1_3, V2_1}, []Version{V1_2}},
		{Sensitive, []Version{V1_4, V2_0}, []Version{V1_3}},
		{Description, []Version{V1_4}, []Version{V1_3}},
		{ShortUniqueIdentifier, []Version{V2_0, V2_1}, []Version{V1_4}},
		{KeyFormatType, []Version{V2_0}, []Version{V1_4}},
		{"Rotate Interval", []Version{V2_1}, []Version{V2_0, V1_4}},
		{OperationPolicyName, []Version{V1_0, V1_4}, []Version{V2_0, V2_1}},
		{CertificateIdentifier, []Version{V1_0, V1_4}, []Version{V2_0}},
		{"x-Barcode", []Version{V1_0, V1_4, V2_0}, nil},
		{"y-Server", []Version{V1_0, V2_1}, nil},
		{"acme-Thing", []Version{V2_0, V2_1}, []Version{V1_0, V1_4}},
	}
	for _, c := range cases {
		for _, v := range c.in {
			assert.True(t, Known(v, c.name), "%s should exist in %s", c.name, v)
		}
		for _, v := range c.notIn {
			assert.False(t, Known(v, c.name), "%s should not exist in %s", c.name, v)
		}
		assert.True(t, Known(Version{}, c.name), "%s: the zero version accepts everything known", c.name)
	}
	assert.False(t, Known(V2_1, "Attributes"), "a tag that is no attribute")
	assert.False(t, Known(V1_4, "Frobnication Date"))
	assert.False(t, Known(V1_4, "x-"), "a custom name needs a name after the prefix")
}

func TestRulesForClients(t *testing.T) {
	cases := []struct {
		name                                  string
		template, modify, delete, multiValued bool
	}{
		{UniqueIdentifier, false, false, false, false},
		{State, false, false, false, false},
		{Digest, false, false, false, true},
		{CryptographicAlgorithm, true, false, false, false},
		{CryptographicUsageMask, true, false, false, false},
		{Name, true, true, true, true},
		{ObjectGroup, true, true, true, true},
		{Link, true, true, true, true},
		{ApplicationSpecificInformation, true, true, true, true},
		{AlternativeName, true, true, true, true},
		{ContactInformation, true, true, true, false},
		{Description, true, true, true, false},
		{ActivationDate, true, true, false, false},
		{DeactivationDate, true, true, false, false},
		{LastChangeDate, false, false, false, false},
		{LeaseTime, false, false, false, false},
		{"Certificate Length", false, false, false, false},
		{"x-Anything", true, true, true, true},
		{"y-Anything", false, false, false, true},
	}
	for _, c := range cases {
		r, ok := Lookup(c.name)
		require.True(t, ok, c.name)
		assert.Equal(t, c.template, r.Template, "%s template", c.name)
		assert.Equal(t, c.modify, r.ClientModify, "%s modify", c.name)
		assert.Equal(t, c.delete, r.ClientDelete, "%s delete", c.name)
		assert.Equal(t, c.multiValued, r.Multi, "%s multi", c.name)
	}
}

func TestCanonical(t *testing.T) {
	assert.Equal(t, ActivationDate, Canonical("Activation   Date"), "the 1.0 vectors' spelling")
	assert.Equal(t, CompromiseDate, Canonical("Compromise  Date"), "the codec registry's spelling")
	assert.Equal(t, "x-Keep  Spaces", Canonical("x-Keep  Spaces"), "custom names are kept exactly")
	assert.Equal(t, "Nonsense  Name", Canonical("Nonsense  Name"))
	r, ok := Lookup("Cryptographic   Length")
	require.True(t, ok)
	assert.Equal(t, CryptographicLength, r.Name)
	r, ok = ByTag(kmip14.TagCompromiseDate)
	require.True(t, ok)
	assert.Equal(t, CompromiseDate, r.Name)
}

func TestCheckValue(t *testing.T) {
	name := func(children ...ttlv.TTLV) ttlv.TTLV { return Structure(kmip14.TagAttributeValue, children...) }
	nameValue := Retag(Text("disk-1"), kmip14.TagNameValue)
	nameType := Retag(Enum(uint32(kmip14.NameTypeUninterpretedTextString)), kmip14.TagNameType)
	cases := []struct {
		attr  string
		value ttlv.TTLV
		ok    bool
	}{
		{CryptographicLength, Int(256), true},
		{CryptographicLength, Long(256), false},
		{CryptographicAlgorithm, Int(3), false},
		{ActivationDate, Date(time.Unix(1, 0)), true},
		{ActivationDate, Text("tomorrow"), false},
		{Description, Text("x"), true},
		{Sensitive, Bool(true), true},
		{Name, name(nameValue, nameType), true},
		{Name, name(nameValue), false},
		{Name, name(nameValue, nameType, nameType), false},
		{Name, name(nameType, Retag(Int(1), kmip14.TagNameValue)), false},
		{Name, name(nameValue, nameType, Retag(Int(1), kmip14.TagLinkType)), false},
		{Name, Text("disk-1"), false},
		{"x-Anything", Long(1), true},
		{"x-Anything", nil, false},
	}
	for _, c := range cases {
		r, ok := Lookup(c.attr)
		require.True(t, ok, c.attr)
		err := r.CheckValue(c.value)
		if c.ok {
			assert.NoError(t, err, c.attr)
		} else {
			assert.ErrorIs(t, err, ErrType, c.attr)
		}
	}
}
