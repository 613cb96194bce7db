package ops

import (
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// routeTable is the one list of the operations this server implements.
// Query reports exactly this list (filtered by the client's version).
func (s *Service) routeTable() map[message.Operation]Handler {
	return map[message.Operation]Handler{
		kmip20.OperationCreate:           s.create,
		kmip20.OperationCreateKeyPair:    s.createKeyPair,
		kmip20.OperationGet:              s.get,
		kmip20.OperationRegister:         s.register,
		kmip20.OperationLocate:           s.locate,
		kmip20.OperationGetAttributes:    s.getAttributes,
		kmip20.OperationGetAttributeList: s.getAttributeList,
		kmip20.OperationAddAttribute:     s.addAttribute,
		kmip20.OperationModifyAttribute:  s.modifyAttribute,
		kmip20.OperationDeleteAttribute:  s.deleteAttribute,
		kmip20.OperationSetAttribute:     s.setAttribute,
		kmip20.OperationDestroy:          s.destroy,
		kmip20.OperationActivate:         s.activate,
		kmip20.OperationRevoke:           s.revoke,
		kmip20.OperationCheck:            s.check,
		kmip20.OperationReKey:            s.rekey,
		kmip20.OperationArchive:          s.archive,
		kmip20.OperationRecover:          s.recoverObject,
		kmip20.OperationInterop:          s.interop,
		kmip20.OperationLog:              s.logMessage,
		kmip20.OperationQuery:            s.query,
		kmip20.OperationDiscoverVersions: s.discoverVersions,
		kmip20.OperationEncrypt:          s.encrypt,
		kmip20.OperationDecrypt:          s.decrypt,
		kmip20.OperationSign:             s.sign,
		kmip20.OperationSignatureVerify:  s.signatureVerify,
		kmip20.OperationMAC:              s.mac,
		kmip20.OperationMACVerify:        s.macVerify,
		kmip20.OperationHash:             s.hash,
		kmip20.OperationRNGRetrieve:      s.rngRetrieve,
		kmip20.OperationRNGSeed:          s.rngSeed,
		kmip20.OperationExport:           s.export,
		kmip20.OperationImport:           s.importObject,
		kmip20.OperationReKeyKeyPair:     s.rekeyKeyPair,
	}
}
