package ops

import (
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// serverAttributes are set by the server only (KMIP 1.4 section 3, the
// "Initially set by: Server" rows); a client that sends one is refused.
var serverAttributes = []string{
	attr.UniqueIdentifier, attr.ObjectType, attr.State, attr.InitialDate,
	attr.LastChangeDate, attr.DestroyDate, attr.Digest,
}

// checkClientAttributes vets the attributes a client sends with Create or
// Register: it may not set what only the server sets.
func checkClientAttributes(attrs attr.List) error {
	for _, name := range serverAttributes {
		if _, set := attrs.Get(name); set {
			return message.Errorf(kmip20.ResultReasonReadOnlyAttribute, "attribute %s is set by the server", name)
		}
	}
	return nil
}
