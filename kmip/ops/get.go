package ops

import (
	"bytes"
	"context"
	"fmt"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// get implements Get (KMIP 1.4 section 4.11, 2.1 section 6.1.22): the
// object's content is opened inside the root of trust and returned. A key
// comes in the requested Key Format Type, by default the one it was
// registered in (Raw for keys the server made):
//
//   - Symmetric Key: Raw, Transparent Symmetric Key (Opaque only as
//     registered);
//   - Secret Data: as registered (Raw or Opaque);
//   - RSA private key: PKCS#1, PKCS#8, Transparent RSA Private Key;
//   - EC private key: PKCS#8, EC Private Key, Transparent EC Private Key;
//   - RSA public key: PKCS#1, X.509 (SubjectPublicKeyInfo), Transparent
//     RSA Public Key;
//   - EC public key: X.509, Transparent EC Public Key;
//   - DSA keys: as registered (Transparent DSA).
//
// A Certificate comes as its X.509 value, an Opaque Object as registered,
// a Template (1.x) as its list of attributes. Anything else is Key Format
// Type Not Supported. The Key Value holds the Key Material only: no
// attributes, in any version, unless the client asks for the key wrapped
// (Key Wrapping Specification, see wrap.go).
func (s *Service) get(ctx context.Context, call *Call) (any, error) {
	var req message.GetRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	id, err := req.UniqueIdentifier.Resolve(call.Placeholder)
	if err != nil {
		return nil, err
	}
	switch {
	case req.KeyWrapType != 0 && req.KeyWrapType != kmip14.KeyWrapTypeNotWrapped && req.KeyWrapType != kmip14.KeyWrapTypeAsRegistered:
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "Key Wrap Type %s is not supported", req.KeyWrapType)
	case req.KeyCompressionType != 0 && req.KeyCompressionType != kmip14.KeyCompressionTypeECPublicKeyTypeUncompressed:
		return nil, message.Errorf(kmip20.ResultReasonKeyCompressionTypeNotSupported, "key compression %s is not supported", req.KeyCompressionType)
	}
	m, err := s.load(ctx, call, id)
	if err != nil {
		return nil, err
	}
	call.Placeholder = id
	if _, err := object.Transition(object.State(m.rec.State), object.EventUse); err != nil {
		return nil, err
	}
	// Sensitive and Extractable (KMIP 1.4 sections 3.39, 3.40): a sensitive
	// object leaves the server only wrapped; a non-extractable one never
	// leaves it.
	if !flag(m.attrs, "Extractable", true) {
		return nil, message.Errorf(kmip20.ResultReasonNotExtractable, "object %s is not extractable", id)
	}
	wrapping := len(req.KeyWrappingSpecification) > 0
	if flag(m.attrs, "Sensitive", false) && !wrapping {
		return nil, message.Errorf(kmip20.ResultReasonSensitive, "object %s is sensitive: it is only returned wrapped (give a Key Wrapping Specification)", id)
	}
	t := kmip14.ObjectType(m.rec.ObjectType)
	if !message.ObjectTypeIn(t, call.Version) {
		return nil, message.Errorf(kmip20.ResultReasonInvalidObjectType, "object %s is a %s, which KMIP %s does not have", id, t, call.Version)
	}
	plain, err := s.material(ctx, call, m)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	st, err := unsealMaterial(t, plain)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	st.payload = bytes.Clone(st.payload) // the response must not alias what is cleared

	resp := &message.GetResponse{ObjectType: t, UniqueIdentifier: id}
	only := func(f kmip14.KeyFormatType) error {
		if req.KeyFormatType != 0 && req.KeyFormatType != f {
			return message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "a %s is not available in key format %s", t, req.KeyFormatType)
		}
		return nil
	}
	switch t {
	case kmip14.ObjectTypeCertificate:
		if err := only(kmip14.KeyFormatTypeX_509); err != nil {
			return nil, err
		}
		resp.Certificate = &message.Certificate{CertificateType: kmip14.CertificateType(st.subtype), CertificateValue: st.payload}
	case kmip14.ObjectTypeOpaqueObject:
		if err := only(kmip14.KeyFormatTypeOpaque); err != nil {
			return nil, err
		}
		resp.OpaqueObject = &message.OpaqueObject{OpaqueDataType: kmip14.OpaqueDataType(st.subtype), OpaqueDataValue: st.payload}
	case kmip14.ObjectTypeTemplate:
		if err := only(0); err != nil {
			return nil, err
		}
		list, err := attr.Unmarshal(st.payload)
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", id, err)
		}
		if resp.Template, err = message.EncodeAttributes(call.Version, kmip14.TagTemplate, list); err != nil {
			return nil, err
		}
	case kmip14.ObjectTypeSymmetricKey, kmip14.ObjectTypeSecretData, kmip14.ObjectTypePublicKey, kmip14.ObjectTypePrivateKey:
		kb, err := keyBlock(t, st, req.KeyFormatType, m.attrs)
		if err != nil {
			return nil, err
		}
		if wrapping {
			if kb, err = s.wrapKey(ctx, call, req.KeyWrappingSpecification, kb, m); err != nil {
				return nil, err
			}
		}
		switch t {
		case kmip14.ObjectTypeSymmetricKey:
			resp.SymmetricKey = &message.SymmetricKey{KeyBlock: kb}
		case kmip14.ObjectTypeSecretData:
			resp.SecretData = &message.SecretData{SecretDataType: kmip14.SecretDataType(st.subtype), KeyBlock: kb}
		case kmip14.ObjectTypePublicKey:
			resp.PublicKey = &message.PublicKey{KeyBlock: kb}
		case kmip14.ObjectTypePrivateKey:
			resp.PrivateKey = &message.PrivateKey{KeyBlock: kb}
		}
	default:
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "Get of a %s is not supported", t)
	}
	if wrapping && resp.SymmetricKey == nil && resp.SecretData == nil && resp.PublicKey == nil && resp.PrivateKey == nil {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "a %s has no Key Block to wrap", t)
	}
	// Fresh (KMIP 1.4 section 3.34) says the object has never been served
	// to a client: this Get ends that, durably before the material is
	// answered (the store commits it together with concurrent writes).
	// Only the first Get of an object writes; the update starts from the
	// object as loaded above.
	if flag(m.attrs, attr.Fresh, false) {
		if _, err := s.modifyFrom(ctx, call, id, m, s.load, func(m *managed) error {
			m.attrs.Set(attr.Fresh, attr.Bool(false))
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// keyBlock renders stored key material in the requested format (0: the
// format it is stored in) with the object's Cryptographic Algorithm and
// Length.
func keyBlock(t kmip14.ObjectType, st storedMaterial, want kmip14.KeyFormatType, attrs attr.List) (message.KeyBlock, error) {
	if want == 0 {
		want = st.format
	}
	item := materialItem(st.format, st.payload)
	if want != st.format {
		if t == kmip14.ObjectTypeSecretData {
			return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonKeyFormatTypeNotSupported, "this Secret Data is available in key format %s only", st.format)
		}
		key, err := parseKey(t, st.format, item)
		if err != nil {
			return message.KeyBlock{}, fmt.Errorf("stored %s material in format %s: %v", t, st.format, err)
		}
		if item, err = convertKey(key, want); err != nil {
			return message.KeyBlock{}, err
		}
	}
	alg, length, err := cryptoParams(attrs)
	if err != nil {
		return message.KeyBlock{}, err
	}
	return message.KeyBlock{
		KeyFormatType:          want,
		KeyValue:               message.NewKeyValue(item),
		CryptographicAlgorithm: kmip14.CryptographicAlgorithm(alg),
		CryptographicLength:    length,
	}, nil
}

// flag reads a Boolean attribute, def when it is absent.
func flag(attrs attr.List, name string, def bool) bool {
	a, ok := attrs.Get(name)
	if !ok || a.Value.Type() != ttlv.TypeBoolean {
		return def
	}
	return a.Value.ValueBoolean()
}
