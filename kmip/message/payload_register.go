package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
)

// RegisterRequest is the Register payload (KMIP 1.4 section 4.3, 2.1
// section 6.1.47). 1.x clients send TemplateAttribute, 2.x clients
// Attributes. The managed object is kept raw, one field per object type:
// Object picks the one the request carries.
type RegisterRequest struct {
	ObjectType        ObjectType
	TemplateAttribute ttlv.TTLV
	Attributes        ttlv.TTLV
	Certificate       ttlv.TTLV
	SymmetricKey      ttlv.TTLV
	PublicKey         ttlv.TTLV
	PrivateKey        ttlv.TTLV
	SplitKey          ttlv.TTLV
	Template          ttlv.TTLV
	SecretData        ttlv.TTLV
	OpaqueObject      ttlv.TTLV
	PGPKey            ttlv.TTLV
}

// Object returns the managed object structure the request carries, which
// must be the one its Object Type names, and the only one.
func (r *RegisterRequest) Object() (ttlv.TTLV, error) {
	objects := map[ObjectType]ttlv.TTLV{
		kmip14.ObjectTypeCertificate:  r.Certificate,
		kmip14.ObjectTypeSymmetricKey: r.SymmetricKey,
		kmip14.ObjectTypePublicKey:    r.PublicKey,
		kmip14.ObjectTypePrivateKey:   r.PrivateKey,
		kmip14.ObjectTypeSplitKey:     r.SplitKey,
		kmip14.ObjectTypeTemplate:     r.Template,
		kmip14.ObjectTypeSecretData:   r.SecretData,
		kmip14.ObjectTypeOpaqueObject: r.OpaqueObject,
		kmip14.ObjectTypePGPKey:       r.PGPKey,
	}
	for t, o := range objects {
		if t != r.ObjectType && len(o) > 0 {
			return nil, Errorf(kmip20.ResultReasonInvalidField, "Object Type is %s but the request carries a %s", r.ObjectType, t)
		}
	}
	o := objects[r.ObjectType]
	if len(o) == 0 {
		return nil, Errorf(kmip20.ResultReasonMissingData, "the request carries no %s object", r.ObjectType)
	}
	if o.Type() != ttlv.TypeStructure {
		return nil, Errorf(kmip20.ResultReasonInvalidField, "the %s object is a %s, not a structure", r.ObjectType, o.Type())
	}
	return o, nil
}

// RegisterResponse answers Register.
type RegisterResponse struct {
	UniqueIdentifier string
}
