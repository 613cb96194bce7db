package ops

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/google/uuid"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// serverAttributes are set by the server only (KMIP 1.4 section 3, the
// "Initially set by: Server" rows); a client that sends one is refused.
var serverAttributes = []string{
	attr.UniqueIdentifier, attr.ObjectType, attr.State, attr.InitialDate,
	attr.LastChangeDate, attr.DestroyDate, attr.Digest,
}

// create implements Create (KMIP 1.4 section 4.1) for AES symmetric keys:
// key material from the root of trust's RNG, sealed under the tenant KEK
// inside the root of trust, stored with its attributes; the new key is
// Pre-Active.
func (s *Service) create(ctx context.Context, call *Call) (any, error) {
	var req message.CreateRequest
	if err := decode(call, &req); err != nil {
		return nil, err
	}
	if req.ObjectType != kmip14.ObjectTypeSymmetricKey {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Create makes symmetric keys; object type %s is not supported", req.ObjectType)
	}
	raw := req.TemplateAttribute
	if call.Version.AtLeast(message.V2_0) || len(raw) == 0 {
		raw = req.Attributes
	}
	attrs, err := message.DecodeAttributes(raw)
	if err != nil {
		return nil, err
	}
	for _, name := range serverAttributes {
		if _, set := attrs.Get(name); set {
			return nil, message.Errorf(kmip20.ResultReasonReadOnlyAttribute, "attribute %s is set by the server", name)
		}
	}
	length, err := checkSymmetric(attrs)
	if err != nil {
		return nil, err
	}

	id := uuid.NewString()
	material, err := s.random(ctx, int(length/8))
	if err != nil {
		return nil, err
	}
	defer clear(material)

	now := s.now()
	state, _ := object.Transition(0, object.EventCreate)
	if a, ok := attrs.Get(attr.ActivationDate); ok {
		at, err := a.Date()
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
		}
		if !at.After(now) { // an Activation Date already reached activates at once
			state, _ = object.Transition(state, object.EventActivate)
		}
	}
	digest, err := attr.Struct(struct {
		HashingAlgorithm kmip14.HashingAlgorithm
		DigestValue      []byte
		KeyFormatType    kmip14.KeyFormatType
	}{kmip14.HashingAlgorithmSHA_256, sha256Sum(material), kmip14.KeyFormatTypeRaw})
	if err != nil {
		return nil, err
	}
	attrs.Set(attr.UniqueIdentifier, attr.Text(id))
	attrs.Set(attr.ObjectType, attr.Enum(uint32(kmip14.ObjectTypeSymmetricKey)))
	attrs.Set(attr.InitialDate, attr.Date(now))
	attrs.Set(attr.LastChangeDate, attr.Date(now))
	attrs.Set(attr.Digest, digest)

	m := &managed{
		rec:   &store.Object{TenantID: call.Tenant, ID: id, ObjectType: uint32(kmip14.ObjectTypeSymmetricKey)},
		attrs: attrs,
	}
	m.setState(state)
	if err := m.encodeAttrs(); err != nil {
		return nil, err
	}
	aad, err := m.additionalData()
	if err != nil {
		return nil, err
	}
	key, err := s.tenantKey(ctx, call.Tenant)
	if err != nil {
		return nil, err
	}
	if m.rec.Material, err = s.backend.Seal(ctx, backend.SealRequest{Key: key, Plaintext: material, AdditionalData: aad}); err != nil {
		return nil, fmt.Errorf("seal key material: %w", err)
	}
	if err := s.store.CreateObject(ctx, m.rec); err != nil {
		return nil, fmt.Errorf("store object: %w", err)
	}
	call.Placeholder = id
	return &message.CreateResponse{ObjectType: kmip14.ObjectTypeSymmetricKey, UniqueIdentifier: id}, nil
}

// checkSymmetric validates the attributes a symmetric key needs and
// returns its length in bits.
func checkSymmetric(attrs attr.List) (int32, error) {
	a, ok := attrs.Get(attr.CryptographicAlgorithm)
	if !ok {
		return 0, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Algorithm is required")
	}
	alg, err := a.Enum()
	if err != nil {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	if alg != uint32(kmip14.CryptographicAlgorithmAES) {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Algorithm %s is not supported for Create (AES only)", kmip14.CryptographicAlgorithm(alg))
	}
	l, ok := attrs.Get(attr.CryptographicLength)
	if !ok {
		return 0, message.Errorf(kmip20.ResultReasonMissingData, "Cryptographic Length is required")
	}
	length, err := l.Int()
	if err != nil {
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	switch length {
	case 128, 192, 256:
	default:
		return 0, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d is not valid for AES (128, 192 or 256)", length)
	}
	if u, ok := attrs.Get(attr.CryptographicUsageMask); ok {
		if _, err := u.Int(); err != nil {
			return 0, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
		}
	}
	return length, nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
