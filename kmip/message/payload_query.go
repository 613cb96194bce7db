package message

import (
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	tf "github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
)

// Query functions (KMIP 1.4 section 9.1.3.2.24).
const (
	QueryOperations        = kmip14.QueryFunctionQueryOperations
	QueryObjects           = kmip14.QueryFunctionQueryObjects
	QueryServerInformation = kmip14.QueryFunctionQueryServerInformation
)

// QueryRequest is the Query payload (KMIP 1.4 section 4.25).
type QueryRequest struct {
	QueryFunction []kmip14.QueryFunction
}

// QueryResponse answers Query; each list is present only when asked for.
type QueryResponse struct {
	Operation            []Operation  `ttlv:",omitempty"`
	ObjectType           []ObjectType `ttlv:",omitempty"`
	VendorIdentification string       `ttlv:",omitempty"`
	ServerInformation    ttlv.TTLV    `ttlv:",omitempty"`
}

// ServerInformation is the 2.x Server Information structure (KMIP 2.1
// section 6.1.37). 1.x leaves its content to the vendor, and its fields
// are 2.x tags that a 1.x client must never see: 1.x clients get the
// structure empty.
type ServerInformation struct {
	TTLVTag       struct{} `ttlv:"ServerInformation"`
	ServerName    string   `ttlv:",omitempty"`
	ServerVersion string   `ttlv:",omitempty"`
	ProductName   string   `ttlv:",omitempty"`
}

// Encode writes the structure as the reflection encoder does, by hand:
// every Query that asks for it pays for it.
func (i ServerInformation) Encode() ttlv.TTLV {
	b, s := tf.Begin(make([]byte, 0, 64), kmip14.TagServerInformation)
	for _, f := range []struct {
		tag ttlv.Tag
		v   string
	}{{kmip20.TagServerName, i.ServerName}, {kmip20.TagServerVersion, i.ServerVersion}, {kmip20.TagProductName, i.ProductName}} {
		if f.v != "" {
			b = tf.Text(b, f.tag, f.v)
		}
	}
	return tf.End(b, s)
}

// operationSince is the version that introduced each operation (KMIP 1.4
// section 9.1.3.2.27, 2.1 section 11.36). Query lists an operation only
// to clients of that version or newer.
var operationSince = map[Operation]Version{
	kmip20.OperationCreate:           V1_0,
	kmip20.OperationCreateKeyPair:    V1_0,
	kmip20.OperationRegister:         V1_0,
	kmip20.OperationReKey:            V1_0,
	kmip20.OperationLocate:           V1_0,
	kmip20.OperationCheck:            V1_0,
	kmip20.OperationGet:              V1_0,
	kmip20.OperationGetAttributes:    V1_0,
	kmip20.OperationGetAttributeList: V1_0,
	kmip20.OperationAddAttribute:     V1_0,
	kmip20.OperationModifyAttribute:  V1_0,
	kmip20.OperationDeleteAttribute:  V1_0,
	kmip20.OperationActivate:         V1_0,
	kmip20.OperationRevoke:           V1_0,
	kmip20.OperationDestroy:          V1_0,
	kmip20.OperationArchive:          V1_0,
	kmip20.OperationRecover:          V1_0,
	kmip20.OperationQuery:            V1_0,
	kmip20.OperationDiscoverVersions: V1_1,
	kmip20.OperationReKeyKeyPair:     V1_1,
	kmip20.OperationEncrypt:          V1_2,
	kmip20.OperationDecrypt:          V1_2,
	kmip20.OperationSign:             V1_2,
	kmip20.OperationSignatureVerify:  V1_2,
	kmip20.OperationMAC:              V1_2,
	kmip20.OperationMACVerify:        V1_2,
	kmip20.OperationRNGRetrieve:      V1_2,
	kmip20.OperationRNGSeed:          V1_2,
	kmip20.OperationHash:             V1_2,
	kmip20.OperationSetAttribute:     V2_0,
	kmip20.OperationInterop:          V2_0,
	kmip20.OperationLog:              V2_0,
	kmip20.OperationImport:           V2_0,
	kmip20.OperationExport:           V2_0,
}

// OperationIn reports whether operation op exists in version v.
func OperationIn(op Operation, v Version) bool {
	since, ok := operationSince[op]
	return ok && v.AtLeast(since)
}

// objectTypeSince is the version that introduced each object type;
// Template is gone from 2.0 on.
var objectTypeSince = map[ObjectType]Version{
	kmip14.ObjectTypeCertificate:  V1_0,
	kmip14.ObjectTypeSymmetricKey: V1_0,
	kmip14.ObjectTypePublicKey:    V1_0,
	kmip14.ObjectTypePrivateKey:   V1_0,
	kmip14.ObjectTypeSplitKey:     V1_0,
	kmip14.ObjectTypeTemplate:     V1_0,
	kmip14.ObjectTypeSecretData:   V1_0,
	kmip14.ObjectTypeOpaqueObject: V1_0,
	kmip14.ObjectTypePGPKey:       V1_2,
}

// ObjectTypeIn reports whether object type t exists in version v.
func ObjectTypeIn(t ObjectType, v Version) bool {
	since, ok := objectTypeSince[t]
	if t == kmip14.ObjectTypeTemplate && v.AtLeast(V2_0) {
		return false
	}
	return ok && v.AtLeast(since)
}
