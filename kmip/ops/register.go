package ops

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// register implements Register (KMIP 1.4 section 4.3, 2.1 section 6.1.47):
// a client's Symmetric Key, Secret Data, Opaque Object, Public Key,
// Private Key, Certificate (X.509) or, in 1.x, Template becomes a managed
// object. The material is checked against its format and against the
// Cryptographic Algorithm and Length (which the server fills in from the
// material when the client leaves them out), then sealed under the tenant
// KEK inside the root of trust with the format it came in (see
// material.go), so that Get returns it as registered. A wrapped Key Block
// is first unwrapped with the managed key its Key Wrapping Data names
// (wrap.go).
func (s *Service) register(ctx context.Context, call *Call) (any, error) {
	var req message.RegisterRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	return s.registerAs(ctx, call, &req, "")
}

// registerAs is Register making the object with Unique Identifier id
// (Import), or with a new one when id is empty.
func (s *Service) registerAs(ctx context.Context, call *Call, req *message.RegisterRequest, id string) (*message.RegisterResponse, error) {
	t := req.ObjectType
	if t == 0 {
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "Register needs an Object Type")
	}
	if !message.ObjectTypeIn(t, call.Version) {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object type %s does not exist in KMIP %s", t, call.Version)
	}
	if !managesObjectType(t) {
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "Register of a %s is not supported", t)
	}
	obj, err := req.Object()
	if err != nil {
		return nil, err
	}
	attrs, err := s.requestAttributes(ctx, call, req.TemplateAttribute, req.Attributes)
	if err != nil {
		return nil, err
	}
	kept, err := s.importKept(ctx, call, t, obj, &attrs) // transport.go
	if err != nil {
		return nil, err
	}
	if kept == nil {
		if obj, err = s.unwrapKeyBlock(ctx, call, obj); err != nil { // wrap.go
			return nil, err
		}
	}
	var (
		content registration
		derived attr.List
	)
	if t == kmip14.ObjectTypeCertificate {
		// A certificate's attributes are the server's to set, but clients
		// (and the OASIS vectors) send some, such as Certificate Type:
		// those that agree with the certificate are taken as said.
		if content, derived, err = registerCertificate(obj, attrs); err != nil {
			return nil, err
		}
		for _, d := range derived {
			attrs.Delete(d.Name)
		}
	}
	if err := checkClientAttributes(attrs); err != nil {
		return nil, err
	}

	switch t {
	case kmip14.ObjectTypeCertificate:
		for _, d := range derived {
			attrs.Add(d.Name, d.Value)
		}
	case kmip14.ObjectTypeOpaqueObject:
		content, err = registerOpaque(obj)
	case kmip14.ObjectTypeTemplate:
		content, err = registerTemplate(obj)
	case kmip14.ObjectTypeSymmetricKey:
		if kept != nil {
			content = kept.content
			kept.apply(&attrs)
			break
		}
		fallthrough
	default:
		content, err = registerKey(call.Version, t, obj, &attrs)
		if err == nil {
			content, err = s.keepRegistered(ctx, call, t, &attrs, content) // keptkeys.go
		}
	}
	if err != nil {
		return nil, err
	}
	sealed := content.seal()
	defer clear(sealed)
	defer clear(content.payload)
	var digest ttlv.TTLV // none for a Template, which has no material
	if !content.noDigest {
		if digest, err = content.digest(); err != nil {
			return nil, err
		}
	}
	m, err := s.insert(ctx, call, newObject{ID: id, Type: t, Attrs: attrs, Material: sealed, Digest: digest, Format: recordedFormat(content.format)})
	if err != nil {
		return nil, err
	}
	call.Placeholder = m.rec.ID
	return &message.RegisterResponse{UniqueIdentifier: m.rec.ID}, nil
}

// managesObjectType reports whether the server manages objects of type t
// (Query lists them as objectTypes).
func managesObjectType(t kmip14.ObjectType) bool {
	return slices.Contains(objectTypes, t)
}

// registration is what Register stores for an object: its sealed content
// and how to digest it.
type registration struct {
	storedMaterial
	// digestFormat is the Key Format Type the Digest names (keys and
	// secret data only).
	digestFormat kmip14.KeyFormatType
	noDigest     bool
}

// digest is the Digest attribute (KMIP 1.4 section 3.17): SHA-256 of the
// material as registered, with its Key Format Type for keys.
func (r registration) digest() (ttlv.TTLV, error) {
	return rawDigest(r.payload, r.digestFormat)
}

// registerKey reads a Symmetric Key, Secret Data, Public Key or Private Key
// and reconciles the Cryptographic Algorithm and Length of its Key Block,
// of the client's attributes and of the material itself, recording them
// in attrs.
func registerKey(v message.Version, t kmip14.ObjectType, obj ttlv.TTLV, attrs *attr.List) (registration, error) {
	var (
		kb      message.KeyBlock
		subtype uint32
		err     error
	)
	switch t {
	case kmip14.ObjectTypeSecretData:
		var o message.SecretData
		err = message.Unmarshal(obj, &o)
		kb, subtype = o.KeyBlock, uint32(o.SecretDataType)
		if err == nil && subtype == 0 {
			return registration{}, message.Errorf(kmip20.ResultReasonMissingData, "Secret Data needs a Secret Data Type")
		}
	case kmip14.ObjectTypeSymmetricKey:
		var o message.SymmetricKey
		err = message.Unmarshal(obj, &o)
		kb = o.KeyBlock
	case kmip14.ObjectTypePublicKey:
		var o message.PublicKey
		err = message.Unmarshal(obj, &o)
		kb = o.KeyBlock
	case kmip14.ObjectTypePrivateKey:
		var o message.PrivateKey
		err = message.Unmarshal(obj, &o)
		kb = o.KeyBlock
	}
	if err != nil {
		return registration{}, message.Errorf(kmip20.ResultReasonInvalidMessage, "%s: %v", t, err)
	}
	if len(kb.KeyWrappingData) > 0 {
		return registration{}, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "registering a wrapped key (Key Wrapping Data) is not supported")
	}
	if kb.KeyCompressionType != 0 && kb.KeyCompressionType != kmip14.KeyCompressionTypeECPublicKeyTypeUncompressed {
		return registration{}, message.Errorf(kmip20.ResultReasonKeyCompressionTypeNotSupported, "key compression %s is not supported", kb.KeyCompressionType)
	}
	if kb.KeyFormatType == 0 {
		return registration{}, message.Errorf(kmip20.ResultReasonMissingData, "the Key Block has no Key Format Type")
	}
	item, err := kb.Material()
	if err != nil {
		return registration{}, err
	}
	alg, length, err := givenParams(kb, *attrs)
	if err != nil {
		return registration{}, err
	}

	var key any
	if t == kmip14.ObjectTypeSecretData {
		// Secret Data is kept and returned as it came, never converted.
		if !slices.Contains(registerFormats[t], kb.KeyFormatType) {
			return registration{}, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "Secret Data in key format %s is not supported (Raw or Opaque)", kb.KeyFormatType)
		}
		if item.Type() == ttlv.TypeByteString && len(item.ValueByteString()) == 0 {
			return registration{}, message.Errorf(kmip20.ResultReasonInvalidField, "the Key Material is empty")
		}
	} else if key, err = parseKey(t, kb.KeyFormatType, item); err != nil {
		return registration{}, err
	}
	switch k := key.(type) {
	case symmetricKey:
		if alg == 0 {
			return registration{}, message.Errorf(kmip20.ResultReasonMissingData, "a symmetric key needs a Cryptographic Algorithm")
		}
		if length, err = symmetricLength(alg, len(k), length); err != nil {
			return registration{}, err
		}
	case opaqueKey, nil:
		// An encoding the server does not know: nothing to check.
	default:
		family, bits := keyFacts(k)
		if alg == 0 {
			alg = familyAlgorithm(family, v)
		} else if !algorithmFits(family, alg) {
			return registration{}, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Algorithm %s does not fit %s key material", alg, family)
		}
		if length != 0 && length != bits {
			return registration{}, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d does not match the %d-bit key material", length, bits)
		}
		length = bits
	}
	if alg != 0 {
		attrs.Set(attr.CryptographicAlgorithm, attr.Enum(uint32(alg)))
	}
	if length != 0 {
		attrs.Set(attr.CryptographicLength, attr.Int(length))
	}
	payload, err := materialPayload(kb.KeyFormatType, item)
	if err != nil {
		return registration{}, err
	}
	return registration{
		storedMaterial: storedMaterial{format: kb.KeyFormatType, subtype: subtype, payload: payload},
		digestFormat:   kb.KeyFormatType,
	}, nil
}

// givenParams returns the Cryptographic Algorithm and Length the client
// gave, in the Key Block or as attributes; where it gave both they must
// agree.
func givenParams(kb message.KeyBlock, attrs attr.List) (kmip14.CryptographicAlgorithm, int32, error) {
	a, l, err := cryptoParams(attrs)
	if err != nil {
		return 0, 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	alg, length := kmip14.CryptographicAlgorithm(a), l
	if kb.CryptographicAlgorithm != 0 {
		if alg != 0 && alg != kb.CryptographicAlgorithm {
			return 0, 0, message.Errorf(kmip20.ResultReasonInvalidField, "the Key Block's Cryptographic Algorithm %s differs from the attribute's %s", kb.CryptographicAlgorithm, alg)
		}
		alg = kb.CryptographicAlgorithm
	}
	if kb.CryptographicLength != 0 {
		if length != 0 && length != kb.CryptographicLength {
			return 0, 0, message.Errorf(kmip20.ResultReasonInvalidField, "the Key Block's Cryptographic Length %d differs from the attribute's %d", kb.CryptographicLength, length)
		}
		length = kb.CryptographicLength
	}
	if length < 0 {
		return 0, 0, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d is negative", length)
	}
	return alg, length, nil
}

// registerOpaque reads an Opaque Object: its data is kept as it came.
func registerOpaque(obj ttlv.TTLV) (registration, error) {
	var o message.OpaqueObject
	if err := message.Unmarshal(obj, &o); err != nil {
		return registration{}, message.Errorf(kmip20.ResultReasonInvalidMessage, "Opaque Object: %v", err)
	}
	if o.OpaqueDataType == 0 {
		return registration{}, message.Errorf(kmip20.ResultReasonMissingData, "the Opaque Object has no Opaque Data Type")
	}
	return registration{storedMaterial: storedMaterial{subtype: uint32(o.OpaqueDataType), payload: bytes.Clone(o.OpaqueDataValue)}}, nil
}

// registerTemplate reads a Template (KMIP 1.x): a named list of attributes
// for the objects that name it, kept where material goes.
func registerTemplate(obj ttlv.TTLV) (registration, error) {
	list, err := message.DecodeAttributes(obj)
	if err != nil {
		return registration{}, err
	}
	if err := checkClientAttributes(list); err != nil {
		return registration{}, err
	}
	b, err := list.Marshal()
	if err != nil {
		return registration{}, err
	}
	return registration{storedMaterial: storedMaterial{payload: b}, noDigest: true}, nil
}

// registerCertificate reads an X.509 certificate and derives its
// attributes (KMIP 1.4 sections 3.8-3.16, 2.1 sections 4.8-4.12): type,
// length, the public key's algorithm and length, the signature algorithm,
// identifier, subject and issuer. An attribute the client gave must agree.
func registerCertificate(obj ttlv.TTLV, attrs attr.List) (registration, attr.List, error) {
	var c message.Certificate
	if err := message.Unmarshal(obj, &c); err != nil {
		return registration{}, nil, message.Errorf(kmip20.ResultReasonInvalidMessage, "Certificate: %v", err)
	}
	switch c.CertificateType {
	case kmip14.CertificateTypeX_509:
	case 0:
		return registration{}, nil, message.Errorf(kmip20.ResultReasonMissingData, "the Certificate has no Certificate Type")
	default:
		return registration{}, nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "certificates of type %s are not supported (X.509 is)", c.CertificateType)
	}
	cert, err := x509.ParseCertificate(c.CertificateValue)
	if err != nil {
		return registration{}, nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Certificate Value is not an X.509 certificate: %v", err)
	}
	derived := attr.List{
		{Name: "Certificate Type", Value: attr.Enum(uint32(c.CertificateType))},
		{Name: "Certificate Length", Value: attr.Int(int32(len(cert.Raw)))},
	}
	var family kmip14.CryptographicAlgorithm
	var bits int32
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		family, bits = keyFacts(k)
	}
	if family != 0 {
		alg, length, err := cryptoParams(attrs)
		if err != nil {
			return registration{}, nil, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
		}
		if alg != 0 && !algorithmFits(family, kmip14.CryptographicAlgorithm(alg)) || length != 0 && length != bits {
			return registration{}, nil, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Algorithm or Length do not match the certificate's %d-bit %s key", bits, family)
		}
		if alg == 0 {
			derived = append(derived, attr.Attribute{Name: attr.CryptographicAlgorithm, Value: attr.Enum(uint32(family))})
		}
		derived = append(derived, attr.Attribute{Name: attr.CryptographicLength, Value: attr.Int(bits)})
	}
	if dsa, ok := signatureAlgorithms[cert.SignatureAlgorithm]; ok {
		derived = append(derived, attr.Attribute{Name: "Digital Signature Algorithm", Value: attr.Enum(uint32(dsa))})
	}
	for _, s := range []struct {
		name string
		v    any
	}{
		{"X.509 Certificate Identifier", struct {
			IssuerDistinguishedName []byte
			CertificateSerialNumber []byte
		}{cert.RawIssuer, cert.SerialNumber.Bytes()}},
		{"X.509 Certificate Subject", struct{ SubjectDistinguishedName []byte }{cert.RawSubject}},
		{"X.509 Certificate Issuer", struct{ IssuerDistinguishedName []byte }{cert.RawIssuer}},
	} {
		v, err := attr.Struct(s.v)
		if err != nil {
			return registration{}, nil, err
		}
		derived = append(derived, attr.Attribute{Name: s.name, Value: v})
	}
	derived = append(derived, nameAttributes("Certificate Subject", cert.Subject)...)
	derived = append(derived, nameAttributes("Certificate Issuer", cert.Issuer)...)

	// What the client gave of these must be what the certificate says.
	for _, g := range attrs {
		values := derived.All(g.Name)
		if len(values) > 0 && !slices.ContainsFunc(values, func(d attr.Attribute) bool { return bytes.Equal(d.Value, g.Value) }) {
			return registration{}, nil, message.Errorf(kmip20.ResultReasonInvalidField, "attribute %s does not match the certificate", g.Name)
		}
	}
	return registration{storedMaterial: storedMaterial{subtype: uint32(c.CertificateType), payload: bytes.Clone(cert.Raw)}}, derived, nil
}

// nameAttributes renders the parts of a distinguished name as the 2.x
// attributes prefix+" CN", " O", ... (KMIP 2.1 sections 4.9, 4.11).
func nameAttributes(prefix string, n pkix.Name) attr.List {
	var out attr.List
	add := func(suffix string, values ...string) {
		for _, v := range values {
			if v != "" {
				out.Add(prefix+" "+suffix, attr.Text(v))
			}
		}
	}
	add("CN", n.CommonName)
	add("O", n.Organization...)
	add("OU", n.OrganizationalUnit...)
	add("C", n.Country...)
	add("ST", n.Province...)
	add("L", n.Locality...)
	add("Serial Number", n.SerialNumber)
	return out
}

// signatureAlgorithms maps Go's certificate signature algorithms to the
// Digital Signature Algorithm enumeration (KMIP 1.4 section 9.1.3.2.7).
var signatureAlgorithms = map[x509.SignatureAlgorithm]kmip14.DigitalSignatureAlgorithm{
	x509.MD5WithRSA:       kmip14.DigitalSignatureAlgorithmMD5WithRSAEncryption,
	x509.SHA1WithRSA:      kmip14.DigitalSignatureAlgorithmSHA_1WithRSAEncryption,
	x509.SHA256WithRSA:    kmip14.DigitalSignatureAlgorithmSHA_256WithRSAEncryption,
	x509.SHA384WithRSA:    kmip14.DigitalSignatureAlgorithmSHA_384WithRSAEncryption,
	x509.SHA512WithRSA:    kmip14.DigitalSignatureAlgorithmSHA_512WithRSAEncryption,
	x509.SHA256WithRSAPSS: kmip14.DigitalSignatureAlgorithmRSASSA_PSS,
	x509.SHA384WithRSAPSS: kmip14.DigitalSignatureAlgorithmRSASSA_PSS,
	x509.SHA512WithRSAPSS: kmip14.DigitalSignatureAlgorithmRSASSA_PSS,
	x509.DSAWithSHA1:      kmip14.DigitalSignatureAlgorithmDSAWithSHA_1,
	x509.DSAWithSHA256:    kmip14.DigitalSignatureAlgorithmDSAWithSHA256,
	x509.ECDSAWithSHA1:    kmip14.DigitalSignatureAlgorithmECDSAWithSHA_1,
	x509.ECDSAWithSHA256:  kmip14.DigitalSignatureAlgorithmECDSAWithSHA256,
	x509.ECDSAWithSHA384:  kmip14.DigitalSignatureAlgorithmECDSAWithSHA384,
	x509.ECDSAWithSHA512:  kmip14.DigitalSignatureAlgorithmECDSAWithSHA512,
}

// templateAttributes returns the attributes a Template of the caller's
// tenant holds, found by its Name.
func (s *Service) templateAttributes(ctx context.Context, call *Call, name string) (attr.List, error) {
	recs, err := s.db(ctx).ListObjects(ctx, store.ListQuery{TenantID: call.Tenant, ObjectType: uint32(kmip14.ObjectTypeTemplate), Name: name})
	if err != nil {
		return nil, fmt.Errorf("find template %q: %w", name, err)
	}
	var found []*store.Object
	for _, r := range recs {
		if r.State != uint32(object.StateDestroyed) && r.State != uint32(object.StateDestroyedCompromised) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return nil, message.Errorf(kmip20.ResultReasonItemNotFound, "no template is named %q", name)
	case 1:
	default:
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "more than one template is named %q", name)
	}
	m, err := s.load(ctx, call, found[0].ID)
	if err != nil {
		return nil, err
	}
	plain, err := s.material(ctx, call, m)
	if err != nil {
		return nil, err
	}
	st, err := unsealMaterial(kmip14.ObjectTypeTemplate, plain)
	if err != nil {
		return nil, err
	}
	return attr.Unmarshal(bytes.Clone(st.payload))
}
