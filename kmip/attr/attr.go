package attr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// Standard attribute names used by the server (KMIP 1.4 section 3).
const (
	UniqueIdentifier         = "Unique Identifier"
	Name                     = "Name"
	ObjectType               = "Object Type"
	CryptographicAlgorithm   = "Cryptographic Algorithm"
	CryptographicLength      = "Cryptographic Length"
	CryptographicUsageMask   = "Cryptographic Usage Mask"
	State                    = "State"
	InitialDate              = "Initial Date"
	ActivationDate           = "Activation Date"
	DestroyDate              = "Destroy Date"
	LastChangeDate           = "Last Change Date"
	Digest                   = "Digest"
	ObjectGroup              = "Object Group"
	DeactivationDate         = "Deactivation Date"
	CompromiseDate           = "Compromise Date"
	CompromiseOccurrenceDate = "Compromise Occurrence Date"
	RevocationReason         = "Revocation Reason"
	Link                     = "Link"
	ProtectionStorageMask    = "Protection Storage Mask"

	// Further standard names (KMIP 1.4 section 3, 2.1 section 4).
	CryptographicParameters        = "Cryptographic Parameters"
	CryptographicDomainParameters  = "Cryptographic Domain Parameters"
	CertificateType                = "Certificate Type"
	CertificateLength              = "Certificate Length"
	X509CertificateIdentifier      = "X.509 Certificate Identifier"
	X509CertificateSubject         = "X.509 Certificate Subject"
	X509CertificateIssuer          = "X.509 Certificate Issuer"
	CertificateIdentifier          = "Certificate Identifier"
	CertificateSubject             = "Certificate Subject"
	CertificateIssuer              = "Certificate Issuer"
	DigitalSignatureAlgorithm      = "Digital Signature Algorithm"
	OperationPolicyName            = "Operation Policy Name"
	LeaseTime                      = "Lease Time"
	UsageLimits                    = "Usage Limits"
	ProcessStartDate               = "Process Start Date"
	ProtectStopDate                = "Protect Stop Date"
	ArchiveDate                    = "Archive Date"
	Fresh                          = "Fresh"
	ApplicationSpecificInformation = "Application Specific Information"
	ContactInformation             = "Contact Information"
	AlternativeName                = "Alternative Name"
	KeyValuePresent                = "Key Value Present"
	KeyValueLocation               = "Key Value Location"
	OriginalCreationDate           = "Original Creation Date"
	RandomNumberGenerator          = "Random Number Generator"
	PKCS12FriendlyName             = "PKCS#12 Friendly Name"
	Description                    = "Description"
	Comment                        = "Comment"
	Sensitive                      = "Sensitive"
	AlwaysSensitive                = "Always Sensitive"
	Extractable                    = "Extractable"
	NeverExtractable               = "Never Extractable"
)

// ErrType means an attribute value has another TTLV type than asked for.
var ErrType = errors.New("attribute value has the wrong type")

// Attribute is one instance of an attribute.
type Attribute struct {
	Name  string
	Index int32
	// Value is a complete TTLV item tagged Attribute Value.
	Value ttlv.TTLV
}

// List is an object's attribute set, in insertion order.
type List []Attribute

// Get returns the first instance of name.
func (l List) Get(name string) (Attribute, bool) {
	for _, a := range l {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// All returns every instance of name.
func (l List) All(name string) []Attribute {
	var out []Attribute
	for _, a := range l {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// Set replaces every instance of name with a single one of index 0.
func (l *List) Set(name string, v ttlv.TTLV) {
	l.Delete(name)
	*l = append(*l, Attribute{Name: name, Value: v})
}

// Add appends an instance of name with the next free index.
func (l *List) Add(name string, v ttlv.TTLV) {
	next := int32(0)
	for _, a := range *l {
		if a.Name == name && a.Index >= next {
			next = a.Index + 1
		}
	}
	*l = append(*l, Attribute{Name: name, Index: next, Value: v})
}

// Delete removes every instance of name.
func (l *List) Delete(name string) {
	out := (*l)[:0]
	for _, a := range *l {
		if a.Name != name {
			out = append(out, a)
		}
	}
	*l = out
}

// stored is the persisted form of one attribute: the KMIP 1.x Attribute
// structure, which carries a name, an index and a value of any type.
type stored struct {
	TTLVTag        struct{} `ttlv:"Attribute"`
	AttributeName  string
	AttributeIndex int32
	AttributeValue ttlv.TTLV
}

type storedList struct {
	TTLVTag   struct{} `ttlv:"TemplateAttribute"`
	Attribute []stored
}

// Marshal encodes the list for the store. It writes the bytes gemalto's
// encoder writes for storedList (see codec.go), by hand.
func (l List) Marshal() ([]byte, error) {
	return l.marshalFast(), nil
}

// marshalReflect is Marshal through gemalto's reflection encoder: the
// reference the hand-written encoder is tested against.
func (l List) marshalReflect() ([]byte, error) {
	s := storedList{Attribute: make([]stored, len(l))}
	for i, a := range l {
		s.Attribute[i] = stored{AttributeName: a.Name, AttributeIndex: a.Index, AttributeValue: a.Value}
	}
	b, err := ttlv.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("attr: encode: %w", err)
	}
	return b, nil
}

// Unmarshal decodes what Marshal produced. The usual shape is read by
// hand (codec.go); anything else goes through gemalto's reflection decoder,
// which keeps its exact behaviour for odd input.
func Unmarshal(b []byte) (List, error) {
	item, err := wire.CheckFirst(b)
	if err != nil {
		return nil, fmt.Errorf("attr: decode: %w", err)
	}
	if l, ok := unmarshalFast(item, true); ok {
		return l, nil
	}
	return unmarshalReflect(b)
}

// UnmarshalShared is Unmarshal for a buffer the caller hands over: the
// attribute values point into b instead of into a copy of it, so b must
// not be changed afterwards. The operations load every record's list with
// it (the store returns each record in buffers of its own).
func UnmarshalShared(b []byte) (List, error) {
	item, err := wire.CheckFirst(b)
	if err != nil {
		return nil, fmt.Errorf("attr: decode: %w", err)
	}
	if l, ok := unmarshalFast(item, false); ok {
		return l, nil
	}
	return unmarshalReflect(b)
}

// UnmarshalSharedChecked is UnmarshalShared for bytes that are known to
// equal bytes UnmarshalShared accepted before: it skips wire.CheckFirst,
// the walk over the whole list that makes up a third of a decode. The
// operations use it for a record that the verified-record cache knows
// (its MAC verified, its content hashed, and its list decoded once):
// every other record goes through UnmarshalShared.
func UnmarshalSharedChecked(b []byte) (List, error) {
	item := ttlv.TTLV(b)
	if len(b) < ttlvfast.Header || item.Type() != ttlv.TypeStructure || ttlvfast.Header+item.Len() > len(b) {
		// Not a list UnmarshalShared accepted (the caller's mistake):
		// answered by the checking path rather than misread.
		return UnmarshalShared(b)
	}
	if l, ok := unmarshalFast(item[:ttlvfast.Header+item.Len()], false); ok {
		return l, nil
	}
	return unmarshalReflect(b)
}

// unmarshalReflect is Unmarshal through gemalto's reflection decoder.
func unmarshalReflect(b []byte) (List, error) {
	var s storedList
	if err := wire.Decode(b, &s); err != nil {
		return nil, fmt.Errorf("attr: decode: %w", err)
	}
	l := make(List, len(s.Attribute))
	for i, a := range s.Attribute {
		l[i] = Attribute{Name: a.AttributeName, Index: a.AttributeIndex, Value: a.AttributeValue}
	}
	return l, nil
}

// Retag returns a copy of the TTLV item t with its tag replaced.
func Retag(t ttlv.TTLV, tag ttlv.Tag) ttlv.TTLV {
	out := make(ttlv.TTLV, len(t))
	copy(out, t)
	out[0], out[1], out[2] = byte(tag>>16), byte(tag>>8), byte(tag)
	return out
}

// Structure builds a Structure item with the given tag and children.
func Structure(tag ttlv.Tag, children ...ttlv.TTLV) ttlv.TTLV {
	n := 0
	for _, c := range children {
		n += len(c)
	}
	out := make(ttlv.TTLV, 8, 8+n)
	out[0], out[1], out[2], out[3] = byte(tag>>16), byte(tag>>8), byte(tag), byte(ttlv.TypeStructure)
	binary.BigEndian.PutUint32(out[4:], uint32(n))
	for _, c := range children {
		out = append(out, c...)
	}
	return out
}

// Children splits a Structure item into its children.
func Children(t ttlv.TTLV) []ttlv.TTLV {
	var out []ttlv.TTLV
	for c := t.ValueStructure(); len(c) >= 8; c = c[c.FullLen():] {
		out = append(out, c[:c.FullLen()])
	}
	return out
}

func encode(f func(e *ttlv.Encoder)) ttlv.TTLV {
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	f(e)
	_ = e.Flush()
	return buf.Bytes()
}

// Value constructors: each returns an item tagged Attribute Value. The
// scalar ones write the bytes by hand (ttlvfast), exactly what gemalto's
// encoder writes (TestValueConstructorsMatchGemalto compares them): an
// insert sets about fifteen attributes, and through the encoder each cost
// an encoder, a buffer and a copy.

func Enum(v uint32) ttlv.TTLV {
	return ttlvfast.Enum(make([]byte, 0, 16), kmip14.TagAttributeValue, v)
}
func Int(v int32) ttlv.TTLV {
	return ttlvfast.Int(make([]byte, 0, 16), kmip14.TagAttributeValue, v)
}
func Long(v int64) ttlv.TTLV {
	return ttlvfast.Long(make([]byte, 0, 16), kmip14.TagAttributeValue, v)
}
func Text(v string) ttlv.TTLV {
	return ttlvfast.Text(make([]byte, 0, ttlvfast.Header+padded8(len(v))), kmip14.TagAttributeValue, v)
}
func Bytes(v []byte) ttlv.TTLV {
	if v == nil { // nothing, as the encoder writes for a nil slice
		return nil
	}
	return ttlvfast.Bytes(make([]byte, 0, ttlvfast.Header+padded8(len(v))), kmip14.TagAttributeValue, v)
}
func Bool(v bool) ttlv.TTLV {
	return ttlvfast.Bool(make([]byte, 0, 16), kmip14.TagAttributeValue, v)
}
func Date(v time.Time) ttlv.TTLV {
	return ttlvfast.DateTime(make([]byte, 0, 16), kmip14.TagAttributeValue, v.UTC().Truncate(time.Second))
}

func padded8(n int) int { return (n + 7) &^ 7 }

func BigInt(v *big.Int) ttlv.TTLV {
	return encode(func(e *ttlv.Encoder) { e.EncodeBigInteger(kmip14.TagAttributeValue, v) })
}

// Struct marshals a Go struct (with ttlv field tags) as an Attribute Value
// structure, e.g. a Name or a Digest.
func Struct(v any) (ttlv.TTLV, error) {
	var buf bytes.Buffer
	e := ttlv.NewEncoder(&buf)
	if err := e.EncodeValue(kmip14.TagAttributeValue, v); err != nil {
		return nil, fmt.Errorf("attr: encode value: %w", err)
	}
	if err := e.Flush(); err != nil {
		return nil, fmt.Errorf("attr: encode value: %w", err)
	}
	return buf.Bytes(), nil
}

// Typed readers. They fail with ErrType when the value's TTLV type differs.

func (a Attribute) want(t ttlv.Type) error {
	if a.Value.Type() != t {
		return fmt.Errorf("%w: %s is %s, want %s", ErrType, a.Name, a.Value.Type(), t)
	}
	return nil
}

func (a Attribute) Enum() (uint32, error) {
	if err := a.want(ttlv.TypeEnumeration); err != nil {
		return 0, err
	}
	return uint32(a.Value.ValueEnumeration()), nil
}

func (a Attribute) Int() (int32, error) {
	if err := a.want(ttlv.TypeInteger); err != nil {
		return 0, err
	}
	return a.Value.ValueInteger(), nil
}

func (a Attribute) Text() (string, error) {
	if err := a.want(ttlv.TypeTextString); err != nil {
		return "", err
	}
	return a.Value.ValueTextString(), nil
}

func (a Attribute) Date() (time.Time, error) {
	if err := a.want(ttlv.TypeDateTime); err != nil {
		return time.Time{}, err
	}
	return a.Value.ValueDateTime(), nil
}

// NameValue is the Name attribute's structure (KMIP 1.4 section 3.2).
type NameValue struct {
	NameValue string
	NameType  kmip14.NameType
}

// Name decodes a Name attribute.
func (a Attribute) NameValue() (NameValue, error) {
	var n NameValue
	if err := a.want(ttlv.TypeStructure); err != nil {
		return n, err
	}
	if err := wire.Decode(a.Value, &n); err != nil {
		return n, fmt.Errorf("%w: Name: %w", ErrType, err)
	}
	return n, nil
}
