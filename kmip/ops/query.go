package ops

import (
	"context"

	"github.com/gemalto/kmip-go/kmip14"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Vendor and product names reported by Query.
const (
	VendorIdentification = "kmip-adapter"
	ProductName          = "kmip-adapter"
)

// Version is the server's release, set by the binary at start.
var Version = "dev"

// objectTypes are the object types the server manages (Register takes
// them, Get returns them), in enumeration order.
var objectTypes = []message.ObjectType{
	kmip14.ObjectTypeCertificate,
	kmip14.ObjectTypeSymmetricKey,
	kmip14.ObjectTypePublicKey,
	kmip14.ObjectTypePrivateKey,
	kmip14.ObjectTypeTemplate, // KMIP 1.x only: Query filters it by version
	kmip14.ObjectTypeSecretData,
	kmip14.ObjectTypeOpaqueObject,
}

// query implements Query (KMIP 1.4 section 4.25): operations, object types
// and server information, each limited to what the client's version has.
// Query functions the server has nothing to say about answer nothing, as
// the specification allows.
func (s *Service) query(_ context.Context, call *Call) (any, error) {
	var req message.QueryRequest
	if len(call.Payload) > 0 {
		if err := decode(call, &req); err != nil {
			return nil, err
		}
	}
	resp := &message.QueryResponse{}
	for _, fn := range req.QueryFunction {
		switch fn {
		case message.QueryOperations:
			resp.Operation = s.Operations(call.Version)
		case message.QueryObjects:
			resp.ObjectType = resp.ObjectType[:0]
			for _, t := range objectTypes {
				if message.ObjectTypeIn(t, call.Version) {
					resp.ObjectType = append(resp.ObjectType, t)
				}
			}
		case message.QueryServerInformation:
			resp.VendorIdentification = VendorIdentification
			info := message.ServerInformation{}
			if call.Version.AtLeast(message.V2_0) {
				info = message.ServerInformation{ServerName: ProductName, ServerVersion: Version, ProductName: ProductName}
			}
			resp.ServerInformation = info.Encode()
		}
	}
	return resp, nil
}
