package attr

import (
	"fmt"
	"strings"

	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/version"
)

// Version is a KMIP protocol version (package version). The zero Version
// means "any version": checks that take one skip the version test.
type Version = version.Version

// The versions the rules refer to.
var (
	V1_0 = version.V1_0
	V1_1 = version.V1_1
	V1_2 = version.V1_2
	V1_3 = version.V1_3
	V1_4 = version.V1_4
	V2_0 = version.V2_0
	V2_1 = version.V2_1
)

// Setter says who may set an attribute first ("Initially set by").
type Setter uint8

// Setter values; an attribute may have both.
const (
	SetByServer Setter = 1 << iota
	SetByClient
)

// Field is one member of a structure-valued attribute, checked on values
// that clients send.
type Field struct {
	Tag      ttlv.Tag
	Type     ttlv.Type
	Required bool
}

// Rule is what the specification says about one attribute: KMIP 1.4
// section 3 and KMIP 2.1 section 4, the rows "Initially set by",
// "Modifiable by client", "Deletable by client" and "Multiple instances
// permitted" of each attribute's table.
type Rule struct {
	// Name is the attribute's name: the 1.x Attribute Name, and the name of
	// its tag in 2.x.
	Name string
	// Tag is the attribute's tag: what tags its value in 2.x and what a 2.x
	// Attribute Reference names.
	Tag ttlv.Tag
	// Type is the TTLV type of the value (0 for custom attributes: any).
	Type ttlv.Type
	// Since is the first version with the attribute; Until the first one
	// without it (zero: still in 2.1).
	Since, Until Version
	// InitialBy is "Initially set by".
	InitialBy Setter
	// Template means a client may supply the attribute with Create or
	// Register (the server then sets it from the client's value). An
	// attribute the server derives itself (identifiers, dates, state,
	// digests, certificate fields) is refused there.
	Template bool
	// ClientModify means the attribute is not Read Only for clients: they
	// may add, modify and set it (Add / Modify / Set Attribute).
	ClientModify bool
	// ClientDelete means clients may delete it (Delete Attribute).
	ClientDelete bool
	// Multi means several instances may exist (1.x Attribute Index).
	Multi bool
	// Fields, when set, are the members a structure value may have.
	Fields []Field
	// Custom marks a 1.x custom ("x-", "y-") or 2.x vendor attribute.
	Custom bool
}

// In reports whether the attribute exists in version v (always true for
// the zero Version). Custom attributes exist in every version, but 1.x
// knows only the "x-" and "y-" forms.
func (r Rule) In(v Version) bool {
	if v == (Version{}) {
		return true
	}
	if r.Custom {
		return v.AtLeast(V2_0) || strings.HasPrefix(r.Name, "x-") || strings.HasPrefix(r.Name, "y-")
	}
	return v.AtLeast(r.Since) && (r.Until == (Version{}) || !v.AtLeast(r.Until))
}

// CheckValue checks that a value (an item tagged Attribute Value) has the
// attribute's TTLV type and, for the structures the table describes, the
// expected members. Custom attributes take any type.
func (r Rule) CheckValue(value ttlv.TTLV) error {
	if r.Custom || r.Type == 0 {
		if len(value) < 8 {
			return fmt.Errorf("%w: %s has no value", ErrType, r.Name)
		}
		return nil
	}
	if len(value) < 8 || value.Type() != r.Type {
		got := "nothing"
		if len(value) >= 8 {
			got = value.Type().String()
		}
		return fmt.Errorf("%w: %s is %s, want %s", ErrType, r.Name, got, r.Type)
	}
	if r.Fields == nil {
		return nil
	}
	seen := map[ttlv.Tag]bool{}
	for _, c := range Children(value) {
		f, ok := r.field(c.Tag())
		switch {
		case !ok:
			return fmt.Errorf("%w: %s has an unexpected member %s", ErrType, r.Name, c.Tag())
		case c.Type() != f.Type:
			return fmt.Errorf("%w: %s member %s is %s, want %s", ErrType, r.Name, c.Tag(), c.Type(), f.Type)
		case seen[f.Tag]:
			return fmt.Errorf("%w: %s has member %s twice", ErrType, r.Name, c.Tag())
		}
		seen[f.Tag] = true
	}
	for _, f := range r.Fields {
		if f.Required && !seen[f.Tag] {
			return fmt.Errorf("%w: %s lacks its member %s", ErrType, r.Name, f.Tag)
		}
	}
	return nil
}

func (r Rule) field(tag ttlv.Tag) (Field, bool) {
	for _, f := range r.Fields {
		if f.Tag == tag {
			return f, true
		}
	}
	return Field{}, false
}

// Lookup returns the rule of a standard attribute by name (spelled as
// Canonical accepts it), or the rule of a custom attribute ("vendor-name":
// every instance a client's, except the server's "y-" ones).
func Lookup(name string) (Rule, bool) {
	if r, ok := byName[Canonical(name)]; ok {
		return r, true
	}
	if IsCustom(name) {
		client := !strings.HasPrefix(name, "y-")
		return Rule{
			Name: name, Custom: true, Multi: true,
			InitialBy: SetByServer | SetByClient, Template: client, ClientModify: client, ClientDelete: client,
		}, true
	}
	return Rule{}, false
}

// ByTag returns the rule of the standard attribute with the given tag.
func ByTag(tag ttlv.Tag) (Rule, bool) {
	r, ok := byTag[tag]
	return r, ok
}

// Rules returns the standard attributes' rules, in the table's order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// Known reports whether name is an attribute of version v: a standard one
// that v has, or a custom one v can carry.
func Known(v Version, name string) bool {
	r, ok := Lookup(name)
	return ok && r.In(v)
}

// IsCustom reports whether name is a custom attribute: "x-Name" or
// "y-Name" in 1.x, a vendor attribute "Vendor-Name" in 2.x.
func IsCustom(name string) bool {
	vendor, n, ok := strings.Cut(name, "-")
	return ok && vendor != "" && n != ""
}

// Canonical returns the standard spelling of an attribute name: runs of
// spaces collapse to one (the OASIS 1.0 test vectors send "Activation
// Date" with extra spaces, and the codec's registry spells one tag
// "Compromise  Date"). Names that are not standard are returned unchanged,
// so custom names keep their exact spelling.
func Canonical(name string) string {
	if _, ok := byName[name]; ok {
		return name
	}
	if c := strings.Join(strings.Fields(name), " "); c != name {
		if _, ok := byName[c]; ok {
			return c
		}
	}
	return name
}

// Additional standard attribute names (KMIP 1.4 section 3, 2.1 section 4).
const (
	ShortUniqueIdentifier = "Short Unique Identifier"
	KeyFormatType         = "Key Format Type"
)

var (
	byName = map[string]Rule{}
	byTag  = map[ttlv.Tag]Rule{}
)

func init() {
	for _, r := range rules {
		if _, dup := byName[r.Name]; dup {
			panic("attr: rule for " + r.Name + " twice")
		}
		byName[r.Name] = r
		byTag[r.Tag] = r
	}
}

// Shorthands for the table.
const (
	tStruct = ttlv.TypeStructure
	tInt    = ttlv.TypeInteger
	tLong   = ttlv.TypeLongInteger
	tEnum   = ttlv.TypeEnumeration
	tBool   = ttlv.TypeBoolean
	tText   = ttlv.TypeTextString
	tBytes  = ttlv.TypeByteString
	tDate   = ttlv.TypeDateTime
	tIntv   = ttlv.TypeInterval

	server = SetByServer
	client = SetByClient
	either = SetByServer | SetByClient
)

// rw is a client-writable, client-deletable attribute.
func rw(name string, tag ttlv.Tag, typ ttlv.Type, since Version, multi bool, fields ...Field) Rule {
	return Rule{Name: name, Tag: tag, Type: typ, Since: since, InitialBy: either, Template: true,
		ClientModify: true, ClientDelete: true, Multi: multi, Fields: fields}
}

// ro is an attribute only the server sets.
func ro(name string, tag ttlv.Tag, typ ttlv.Type, since Version, fields ...Field) Rule {
	return Rule{Name: name, Tag: tag, Type: typ, Since: since, InitialBy: server, Fields: fields}
}

// initial is an attribute a client may give at creation but not change.
func initial(name string, tag ttlv.Tag, typ ttlv.Type, since Version, by Setter, fields ...Field) Rule {
	return Rule{Name: name, Tag: tag, Type: typ, Since: since, InitialBy: by, Template: true, Fields: fields}
}

// date is a lifecycle date a client may set and change (within the states
// the operations allow) but not delete.
func date(name string, tag ttlv.Tag) Rule {
	return Rule{Name: name, Tag: tag, Type: tDate, Since: V1_0, InitialBy: either, Template: true, ClientModify: true}
}

func until(r Rule, v Version) Rule { r.Until = v; return r }
func multi(r Rule) Rule            { r.Multi = true; return r }
func modifiable(r Rule) Rule       { r.ClientModify = true; return r }

func req(tag ttlv.Tag, typ ttlv.Type) Field { return Field{Tag: tag, Type: typ, Required: true} }
func opt(tag ttlv.Tag, typ ttlv.Type) Field { return Field{Tag: tag, Type: typ} }

// rules is the table: every standard attribute of KMIP 1.0 to 2.1.
// Sources: KMIP 1.4 section 3 and 2.1 section 4 (each attribute's rules
// table), checked against the OASIS test vectors (which attributes a
// fresh key has in each version, which changes the reference server
// refuses).
var rules = []Rule{
	ro(UniqueIdentifier, 0x420094, tText, V1_0),
	rw(Name, 0x420053, tStruct, V1_0, true, req(0x420055, tText), req(0x420054, tEnum)),
	ro(ObjectType, 0x420057, tEnum, V1_0),
	initial(CryptographicAlgorithm, 0x420028, tEnum, V1_0, server),
	initial(CryptographicLength, 0x42002A, tInt, V1_0, server),
	{Name: CryptographicParameters, Tag: 0x42002B, Type: tStruct, Since: V1_0, InitialBy: client, Template: true,
		ClientModify: true, ClientDelete: true, Multi: true},
	initial(CryptographicDomainParameters, 0x420029, tStruct, V1_0, client),
	ro(CertificateType, 0x42001D, tEnum, V1_0),
	ro(CertificateLength, 0x4200AD, tInt, V1_1),
	ro(X509CertificateIdentifier, 0x4200B5, tStruct, V1_1),
	ro(X509CertificateSubject, 0x4200B7, tStruct, V1_1),
	ro(X509CertificateIssuer, 0x4200B6, tStruct, V1_1),
	until(ro(CertificateIdentifier, 0x420014, tStruct, V1_0), V2_0),
	until(ro(CertificateSubject, 0x42001A, tStruct, V1_0), V2_0),
	until(ro(CertificateIssuer, 0x420015, tStruct, V1_0), V2_0),
	multi(ro(DigitalSignatureAlgorithm, 0x4200AE, tEnum, V1_1)),
	multi(ro(Digest, 0x420034, tStruct, V1_0, req(0x420038, tEnum), opt(0x420035, tBytes), opt(0x420042, tEnum))),
	until(initial(OperationPolicyName, 0x42005D, tText, V1_0, either), V2_0),
	initial(CryptographicUsageMask, 0x42002C, tInt, V1_0, either),
	ro(LeaseTime, 0x420049, tIntv, V1_0),
	{Name: UsageLimits, Tag: 0x420095, Type: tStruct, Since: V1_0, InitialBy: either, Template: true,
		ClientModify: true, ClientDelete: true,
		Fields: []Field{req(0x420097, tLong), opt(0x420096, tLong), req(0x420098, tEnum)}},
	ro(State, 0x42008D, tEnum, V1_0),
	ro(InitialDate, 0x420039, tDate, V1_0),
	date(ActivationDate, 0x420001),
	date(ProcessStartDate, 0x420067),
	date(ProtectStopDate, 0x420068),
	date(DeactivationDate, 0x42002F),
	ro(DestroyDate, 0x420033, tDate, V1_0),
	ro(CompromiseOccurrenceDate, 0x420021, tDate, V1_0),
	ro(CompromiseDate, 0x420020, tDate, V1_0),
	ro(RevocationReason, 0x420081, tStruct, V1_0, req(0x420082, tEnum), opt(0x420080, tText)),
	ro(ArchiveDate, 0x420005, tDate, V1_0),
	rw(ObjectGroup, 0x420056, tText, V1_0, true),
	initial(Fresh, 0x4200A8, tBool, V1_1, either),
	rw(Link, 0x42004A, tStruct, V1_0, true, req(0x42004B, tEnum), req(0x42004C, tText)),
	rw(ApplicationSpecificInformation, 0x420004, tStruct, V1_0, true, req(0x420003, tText), opt(0x420002, tText)),
	rw(ContactInformation, 0x420022, tText, V1_0, false),
	ro(LastChangeDate, 0x420048, tDate, V1_0),
	rw(AlternativeName, 0x4200BF, tStruct, V1_2, true, req(0x4200C0, tText), req(0x4200C1, tEnum)),
	ro(KeyValuePresent, 0x4200BB, tBool, V1_2),
	multi(initial(KeyValueLocation, 0x4200B8, tStruct, V1_2, client, req(0x4200B9, tText), req(0x4200BA, tEnum))),
	initial(OriginalCreationDate, 0x4200BC, tDate, V1_2, either),
	initial(RandomNumberGenerator, 0x4200DE, tStruct, V1_3, either),
	rw(PKCS12FriendlyName, 0x4200FB, tText, V1_4, false),
	rw(Description, 0x4200FC, tText, V1_4, false),
	rw(Comment, 0x4200FD, tText, V1_4, false),
	modifiable(initial(Sensitive, 0x420120, tBool, V1_4, either)),
	ro(AlwaysSensitive, 0x420121, tBool, V1_4),
	modifiable(initial(Extractable, 0x420122, tBool, V1_4, either)),
	ro(NeverExtractable, 0x420123, tBool, V1_4),

	// KMIP 2.0: attributes of their own that 1.x does not have.
	ro("Certificate Subject CN", 0x420108, tText, V2_0),
	ro("Certificate Subject O", 0x420109, tText, V2_0),
	ro("Certificate Subject OU", 0x42010A, tText, V2_0),
	ro("Certificate Subject Email", 0x42010B, tText, V2_0),
	ro("Certificate Subject C", 0x42010C, tText, V2_0),
	ro("Certificate Subject ST", 0x42010D, tText, V2_0),
	ro("Certificate Subject L", 0x42010E, tText, V2_0),
	ro("Certificate Subject UID", 0x42010F, tText, V2_0),
	ro("Certificate Subject Serial Number", 0x420110, tText, V2_0),
	ro("Certificate Subject Title", 0x420111, tText, V2_0),
	ro("Certificate Subject DC", 0x420112, tText, V2_0),
	ro("Certificate Subject DN Qualifier", 0x420113, tText, V2_0),
	ro("Certificate Issuer CN", 0x420114, tText, V2_0),
	ro("Certificate Issuer O", 0x420115, tText, V2_0),
	ro("Certificate Issuer OU", 0x420116, tText, V2_0),
	ro("Certificate Issuer Email", 0x420117, tText, V2_0),
	ro("Certificate Issuer C", 0x420118, tText, V2_0),
	ro("Certificate Issuer ST", 0x420119, tText, V2_0),
	ro("Certificate Issuer L", 0x42011A, tText, V2_0),
	ro("Certificate Issuer UID", 0x42011B, tText, V2_0),
	ro("Certificate Issuer Serial Number", 0x42011C, tText, V2_0),
	ro("Certificate Issuer Title", 0x42011D, tText, V2_0),
	ro("Certificate Issuer DC", 0x42011E, tText, V2_0),
	ro("Certificate Issuer DN Qualifier", 0x42011F, tText, V2_0),
	ro(KeyFormatType, 0x420042, tEnum, V2_0),
	ro(ShortUniqueIdentifier, 0x420136, tBytes, V2_0),
	initial("NIST Key Type", 0x42013A, tEnum, V2_0, either),
	modifiable(initial("Opaque Data Type", 0x420059, tEnum, V2_0, either)),
	rw("Protection Level", 0x420145, tEnum, V2_0, false),
	rw("Protection Period", 0x420146, tIntv, V2_0, false),
	initial("Protection Storage Mask", 0x42015E, tInt, V2_0, either),
	initial("Quantum Safe", 0x420147, tBool, V2_0, either),

	// KMIP 2.1: key rotation.
	rw("Rotate Interval", 0x42016A, tIntv, V2_1, false),
	rw("Rotate Automatic", 0x42016B, tBool, V2_1, false),
	rw("Rotate Offset", 0x42016C, tIntv, V2_1, false),
	ro("Rotate Date", 0x42016D, tDate, V2_1),
	ro("Rotate Generation", 0x42016E, tInt, V2_1),
	rw("Rotate Name", 0x42016F, tStruct, V2_1, false),
	ro("Rotate Latest", 0x420172, tBool, V2_1),
}
