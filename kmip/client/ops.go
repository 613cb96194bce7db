package client

import (
	"context"
	"fmt"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Attribute builders for requests. Each returns an attribute whose Value
// is tagged Attribute Value, as kmip/attr keeps them.

// AESKey is the template of an AES key of the given length with the
// usage mask (kmip14.CryptographicUsageMask bits).
func AESKey(bits int32, usage kmip14.CryptographicUsageMask) attr.List {
	return attr.List{
		{Name: attr.CryptographicAlgorithm, Value: attr.Enum(uint32(kmip14.CryptographicAlgorithmAES))},
		{Name: attr.CryptographicLength, Value: attr.Int(bits)},
		{Name: attr.CryptographicUsageMask, Value: attr.Int(int32(usage))},
	}
}

// Name is a Name attribute of type Uninterpreted Text String.
func Name(name string) attr.Attribute {
	v, err := attr.Struct(attr.NameValue{NameValue: name, NameType: kmip14.NameTypeUninterpretedTextString})
	if err != nil {
		panic(err) // a fixed structure of a string and an enumeration always encodes
	}
	return attr.Attribute{Name: attr.Name, Value: v}
}

// Text is a text attribute: a custom one ("x-Vendor") or a standard one
// of type Text String (Object Group, Contact Information...).
func Text(name, value string) attr.Attribute {
	return attr.Attribute{Name: name, Value: attr.Text(value)}
}

// encodeAttributes renders list for version v inside a structure tagged
// container (see message.EncodeAttributes), refusing an attribute that v
// does not have instead of leaving it out silently.
func encodeAttributes(v message.Version, container ttlv.Tag, list attr.List) (ttlv.TTLV, error) {
	items, err := attributeItems(v, list)
	if err != nil {
		return nil, err
	}
	return attr.Structure(container, items...), nil
}

func attributeItems(v message.Version, list attr.List) ([]ttlv.TTLV, error) {
	items := make([]ttlv.TTLV, 0, len(list))
	for _, a := range list {
		item, ok, err := message.EncodeAttribute(v, a)
		if err != nil {
			return nil, fmt.Errorf("kmip: attribute %q: %w", a.Name, err)
		}
		if !ok {
			return nil, fmt.Errorf("kmip: attribute %q does not exist in KMIP %s", a.Name, v)
		}
		items = append(items, item)
	}
	return items, nil
}

// templateFields puts attrs in a payload's 1.x TemplateAttribute or 2.x
// Attributes field.
func templateFields(v message.Version, attrs attr.List) (template, attributes ttlv.TTLV, err error) {
	if v.AtLeast(message.V2_0) {
		attributes, err = encodeAttributes(v, kmip20.TagAttributes, attrs)
		return nil, attributes, err
	}
	template, err = encodeAttributes(v, kmip14.TagTemplateAttribute, attrs)
	return template, nil, err
}

// uidPayload is a request payload naming one object. Payloads that carry
// a Unique Identifier are built item by item: the reflection encoder
// turns a string whose tag also has a 2.x enumeration (Unique Identifier
// does) into an Enumeration when the string reads as a number, and
// PyKMIP's identifiers are numbers ("1", "2"...).
func uidPayload(id string, more ...ttlv.TTLV) ttlv.TTLV {
	return attr.Structure(kmip14.TagRequestPayload, append([]ttlv.TTLV{textItem(kmip14.TagUniqueIdentifier, id)}, more...)...)
}

// DiscoverVersions asks which of versions the server speaks (all of its
// versions when none are given), in preference order.
func (c *Conn) DiscoverVersions(ctx context.Context, versions ...message.Version) ([]message.Version, error) {
	p, err := c.Call(ctx, kmip20.OperationDiscoverVersions, message.DiscoverVersionsRequest{ProtocolVersion: versions})
	if err != nil {
		return nil, err
	}
	var out message.DiscoverVersionsResponse
	if len(p) > 8 {
		if err := Decode(p, &out); err != nil {
			return nil, err
		}
	}
	return out.ProtocolVersion, nil
}

// Query asks the server for what the query functions name (Query
// Operations, Objects, Server Information...).
func (c *Conn) Query(ctx context.Context, functions ...kmip14.QueryFunction) (*message.QueryResponse, error) {
	p, err := c.Call(ctx, kmip20.OperationQuery, message.QueryRequest{QueryFunction: functions})
	if err != nil {
		return nil, err
	}
	var out message.QueryResponse
	if len(p) > 8 {
		if err := Decode(p, &out); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// CreatePayload builds the Create payload for an object of type t with
// attrs, in version v's form.
func CreatePayload(v message.Version, t message.ObjectType, attrs attr.List) (any, error) {
	tmpl, attributes, err := templateFields(v, attrs)
	if err != nil {
		return nil, err
	}
	return struct {
		ObjectType        message.ObjectType
		TemplateAttribute ttlv.TTLV `ttlv:",omitempty"`
		Attributes        ttlv.TTLV `ttlv:",omitempty"`
	}{t, tmpl, attributes}, nil
}

// Create makes a managed object of type t (a Symmetric Key, usually) with
// attrs and returns its Unique Identifier.
func (c *Conn) Create(ctx context.Context, t message.ObjectType, attrs attr.List) (string, error) {
	payload, err := CreatePayload(c.Version(), t, attrs)
	if err != nil {
		return "", err
	}
	p, err := c.Call(ctx, kmip20.OperationCreate, payload)
	if err != nil {
		return "", err
	}
	var out message.CreateResponse
	if err := Decode(p, &out); err != nil {
		return "", err
	}
	return out.UniqueIdentifier, nil
}

// SymmetricKeyObject is a Symmetric Key in Raw format, as Register sends it.
func SymmetricKeyObject(alg kmip14.CryptographicAlgorithm, material []byte) *message.SymmetricKey {
	return &message.SymmetricKey{KeyBlock: message.KeyBlock{
		KeyFormatType:          kmip14.KeyFormatTypeRaw,
		KeyValue:               message.NewKeyValue(message.KeyMaterialBytes(material)),
		CryptographicAlgorithm: alg,
		CryptographicLength:    int32(len(material) * 8),
	}}
}

// SecretDataObject is Secret Data (a password, a seed) in Opaque format.
func SecretDataObject(t kmip14.SecretDataType, data []byte) *message.SecretData {
	return &message.SecretData{SecretDataType: t, KeyBlock: message.KeyBlock{
		KeyFormatType: kmip14.KeyFormatTypeOpaque,
		KeyValue:      message.NewKeyValue(message.KeyMaterialBytes(data)),
	}}
}

// RegisterPayload builds the Register payload for object (a
// *message.SymmetricKey or a *message.SecretData) with attrs, in version
// v's form.
func RegisterPayload(v message.Version, object any, attrs attr.List) (any, error) {
	tmpl, attributes, err := templateFields(v, attrs)
	if err != nil {
		return nil, err
	}
	type payload struct {
		ObjectType        message.ObjectType
		TemplateAttribute ttlv.TTLV             `ttlv:",omitempty"`
		Attributes        ttlv.TTLV             `ttlv:",omitempty"`
		SymmetricKey      *message.SymmetricKey `ttlv:",omitempty"`
		SecretData        *message.SecretData   `ttlv:",omitempty"`
	}
	p := payload{TemplateAttribute: tmpl, Attributes: attributes}
	switch o := object.(type) {
	case *message.SymmetricKey:
		p.ObjectType, p.SymmetricKey = kmip14.ObjectTypeSymmetricKey, o
	case *message.SecretData:
		p.ObjectType, p.SecretData = kmip14.ObjectTypeSecretData, o
	default:
		return nil, fmt.Errorf("kmip: register: %T is not an object this client registers", object)
	}
	return p, nil
}

// Register stores object (see RegisterPayload) with attrs and returns its
// Unique Identifier.
func (c *Conn) Register(ctx context.Context, object any, attrs attr.List) (string, error) {
	payload, err := RegisterPayload(c.Version(), object, attrs)
	if err != nil {
		return "", err
	}
	p, err := c.Call(ctx, kmip20.OperationRegister, payload)
	if err != nil {
		return "", err
	}
	var out message.RegisterResponse
	if err := Decode(p, &out); err != nil {
		return "", err
	}
	return out.UniqueIdentifier, nil
}

// Object is a managed object as Get returns it.
type Object struct {
	Type             message.ObjectType
	UniqueIdentifier string
	// For keys and secret data: the Key Block's fields, and Material when
	// the Key Material is a byte string (Raw, Opaque, PKCS#1, PKCS#8,
	// X.509) or a Transparent Symmetric Key.
	KeyFormatType kmip14.KeyFormatType
	Algorithm     kmip14.CryptographicAlgorithm
	Length        int32
	Material      []byte
	// Certificate and Opaque Object values.
	Value []byte
	// Raw is the whole response payload.
	Raw ttlv.TTLV
}

// GetPayload builds the Get payload for id; format 0 leaves the Key
// Format Type to the server.
func GetPayload(id string, format kmip14.KeyFormatType) ttlv.TTLV {
	if format == 0 {
		return uidPayload(id)
	}
	return uidPayload(id, enumItem(kmip14.TagKeyFormatType, uint32(format)))
}

// Get returns the object id, its key in the server's default format.
func (c *Conn) Get(ctx context.Context, id string) (*Object, error) {
	return c.GetFormat(ctx, id, 0)
}

// GetFormat returns the object id, its key in the given Key Format Type
// (0: the server's choice).
func (c *Conn) GetFormat(ctx context.Context, id string, format kmip14.KeyFormatType) (*Object, error) {
	p, err := c.Call(ctx, kmip20.OperationGet, GetPayload(id, format))
	if err != nil {
		return nil, err
	}
	var r message.GetResponse
	if err := Decode(p, &r); err != nil {
		return nil, err
	}
	o := &Object{Type: r.ObjectType, UniqueIdentifier: r.UniqueIdentifier, Raw: p}
	var kb *message.KeyBlock
	switch {
	case r.SymmetricKey != nil:
		kb = &r.SymmetricKey.KeyBlock
	case r.PrivateKey != nil:
		kb = &r.PrivateKey.KeyBlock
	case r.PublicKey != nil:
		kb = &r.PublicKey.KeyBlock
	case r.SecretData != nil:
		kb = &r.SecretData.KeyBlock
	case r.Certificate != nil:
		o.Value = r.Certificate.CertificateValue
	case r.OpaqueObject != nil:
		o.Value = r.OpaqueObject.OpaqueDataValue
	}
	if kb != nil {
		o.KeyFormatType, o.Algorithm, o.Length = kb.KeyFormatType, kb.CryptographicAlgorithm, kb.CryptographicLength
		o.Material = keyMaterial(kb.KeyValue)
	}
	return o, nil
}

// keyMaterial finds the Key Material bytes in a Key Value (a structure
// that may also hold attributes, which some servers put there).
func keyMaterial(kv ttlv.TTLV) []byte {
	if len(kv) < 8 || kv.Type() != ttlv.TypeStructure {
		return nil
	}
	for _, c := range attr.Children(kv) {
		if c.Tag() != kmip14.TagKeyMaterial {
			continue
		}
		switch c.Type() {
		case ttlv.TypeByteString:
			return c.ValueByteString()
		case ttlv.TypeStructure:
			var t message.TransparentSymmetricKey
			if Decode(c, &t) == nil {
				return t.Key
			}
		}
	}
	return nil
}

// LocateOptions are a Locate's filters and paging.
type LocateOptions struct {
	Attributes   attr.List
	MaximumItems int32
	OffsetItems  int32 // KMIP 1.3 and later
}

// LocatePayload builds the Locate payload in version v's form: 1.x puts
// Attribute items in the payload, 2.x one Attributes structure.
func LocatePayload(v message.Version, o LocateOptions) (ttlv.TTLV, error) {
	var items []ttlv.TTLV
	if o.MaximumItems > 0 {
		items = append(items, intItem(kmip14.TagMaximumItems, o.MaximumItems))
	}
	if o.OffsetItems > 0 {
		if !v.AtLeast(message.V1_3) {
			return nil, fmt.Errorf("kmip: Offset Items does not exist in KMIP %s", v)
		}
		items = append(items, intItem(kmip14.TagOffsetItems, o.OffsetItems))
	}
	if v.AtLeast(message.V2_0) {
		s, err := encodeAttributes(v, kmip20.TagAttributes, o.Attributes)
		if err != nil {
			return nil, err
		}
		items = append(items, s)
	} else {
		a, err := attributeItems(v, o.Attributes)
		if err != nil {
			return nil, err
		}
		items = append(items, a...)
	}
	return attr.Structure(kmip14.TagRequestPayload, items...), nil
}

// Locate returns the Unique Identifiers of the objects that match.
func (c *Conn) Locate(ctx context.Context, o LocateOptions) ([]string, error) {
	payload, err := LocatePayload(c.Version(), o)
	if err != nil {
		return nil, err
	}
	p, err := c.Call(ctx, kmip20.OperationLocate, payload)
	if err != nil {
		return nil, err
	}
	var out message.LocateResponse
	if err := Decode(p, &out); err != nil {
		return nil, err
	}
	return out.UniqueIdentifier, nil
}

// GetAttributesPayload builds the Get Attributes payload: attribute names
// in 1.x, Attribute References in 2.x; none asks for every attribute.
func GetAttributesPayload(v message.Version, id string, names ...string) (ttlv.TTLV, error) {
	items := []ttlv.TTLV{textItem(kmip14.TagUniqueIdentifier, id)}
	for _, n := range names {
		if !v.AtLeast(message.V2_0) {
			items = append(items, textItem(kmip14.TagAttributeName, n))
			continue
		}
		ref, err := reference(n)
		if err != nil {
			return nil, err
		}
		items = append(items, ref)
	}
	return attr.Structure(kmip14.TagRequestPayload, items...), nil
}

// reference is the 2.x Attribute Reference to the attribute name: its tag
// as an enumeration, or a vendor reference for "vendor-name".
func reference(name string) (ttlv.TTLV, error) {
	r, ok := attr.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("kmip: unknown attribute %q", name)
	}
	if r.Custom {
		vendor, n := splitVendor(name)
		return message.Marshal(struct {
			TTLVTag              struct{} `ttlv:"AttributeReference"`
			VendorIdentification string
			AttributeName        string
		}{VendorIdentification: vendor, AttributeName: n})
	}
	return enumItem(kmip20.TagAttributeReference, uint32(r.Tag)), nil
}

func splitVendor(name string) (vendor, n string) {
	for i := 0; i < len(name); i++ {
		if name[i] == '-' {
			return name[:i], name[i+1:]
		}
	}
	return "", name
}

// GetAttributes returns the named attributes of object id (every one when
// no name is given). An attribute the object lacks is simply absent.
func (c *Conn) GetAttributes(ctx context.Context, id string, names ...string) (attr.List, error) {
	payload, err := GetAttributesPayload(c.Version(), id, names...)
	if err != nil {
		return nil, err
	}
	p, err := c.Call(ctx, kmip20.OperationGetAttributes, payload)
	if err != nil {
		return nil, err
	}
	return ResponseAttributes(p)
}

// ResponseAttributes reads the attributes in a response payload: the 1.x
// Attribute items, or the 2.x Attributes structure.
func ResponseAttributes(payload ttlv.TTLV) (attr.List, error) {
	var v1 []ttlv.TTLV
	for _, c := range attr.Children(payload) {
		switch c.Tag() {
		case kmip20.TagAttributes:
			return message.DecodeAttributes(c)
		case kmip14.TagAttribute:
			v1 = append(v1, c)
		}
	}
	if len(v1) == 0 {
		return nil, nil
	}
	return message.DecodeAttributes(attr.Structure(kmip14.TagTemplateAttribute, v1...))
}

// AddAttributePayload builds the Add Attribute payload: a 1.x Attribute,
// or a 2.x New Attribute.
func AddAttributePayload(v message.Version, id string, a attr.Attribute) (ttlv.TTLV, error) {
	items, err := attributeItems(v, attr.List{a})
	if err != nil {
		return nil, err
	}
	item := items[0]
	if v.AtLeast(message.V2_0) {
		item = attr.Structure(kmip20.TagNewAttribute, item)
	}
	return attr.Structure(kmip14.TagRequestPayload, textItem(kmip14.TagUniqueIdentifier, id), item), nil
}

// AddAttribute adds an instance of a to object id.
func (c *Conn) AddAttribute(ctx context.Context, id string, a attr.Attribute) error {
	payload, err := AddAttributePayload(c.Version(), id, a)
	if err != nil {
		return err
	}
	_, err = c.Call(ctx, kmip20.OperationAddAttribute, payload)
	return err
}

// Activate makes object id Active.
func (c *Conn) Activate(ctx context.Context, id string) error {
	_, err := c.Call(ctx, kmip20.OperationActivate, uidPayload(id))
	return err
}

// Revoke revokes object id with a reason code and message; a compromise
// date is sent for the Key Compromise and CA Compromise codes (zero means
// now).
func (c *Conn) Revoke(ctx context.Context, id string, code kmip14.RevocationReasonCode, msg string, compromised time.Time) error {
	reason, err := message.Marshal(struct {
		TTLVTag              struct{} `ttlv:"RevocationReason"`
		RevocationReasonCode kmip14.RevocationReasonCode
		RevocationMessage    string `ttlv:",omitempty"`
	}{RevocationReasonCode: code, RevocationMessage: msg})
	if err != nil {
		return err
	}
	items := []ttlv.TTLV{reason}
	if code == kmip14.RevocationReasonCodeKeyCompromise || code == kmip14.RevocationReasonCodeCACompromise {
		if compromised.IsZero() {
			compromised = time.Now()
		}
		items = append(items, attr.Retag(attr.Date(compromised), kmip14.TagCompromiseOccurrenceDate))
	}
	_, err = c.Call(ctx, kmip20.OperationRevoke, uidPayload(id, items...))
	return err
}

// Destroy destroys object id.
func (c *Conn) Destroy(ctx context.Context, id string) error {
	_, err := c.Call(ctx, kmip20.OperationDestroy, uidPayload(id))
	return err
}

// Item encoders for hand-built payloads.

func textItem(tag ttlv.Tag, s string) ttlv.TTLV { return attr.Retag(attr.Text(s), tag) }
func intItem(tag ttlv.Tag, v int32) ttlv.TTLV   { return attr.Retag(attr.Int(v), tag) }
func enumItem(tag ttlv.Tag, v uint32) ttlv.TTLV { return attr.Retag(attr.Enum(v), tag) }
