package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Secure import through the root of trust's transport keys (see
// backend.TransportImporter). A Register or Import whose Key Block is
// wrapped (Key Wrapping Data, Wrapping Method Encrypt) names in its
// Encryption Key Information not a managed object but a transport key:
//
//	transport:TKEK-01   RSA-OAEP under that TKEK's public key
//	                    (`kmipctl hsm tkek export` gives it)
//	transport:IKEY      DES3-CBC with PKCS#5 padding under the IKEY,
//	                    the IV in the Key Wrapping Data
//
// A Symmetric Key that will be kept (AES, Raw, not Extractable, the
// tenant's root of trust keeps keys, Encoding Option No Encoding) is
// unwrapped inside the root of trust and stored in kept form: its
// plaintext never enters the adapter. Anything else is decrypted inside
// the root of trust and then registered (and sealed) like a plain Key
// Block: its plaintext passes through the adapter, as a plain Register's
// does.
const TransportKeyPrefix = "transport:"

// transportLabel returns the transport key label a Key Wrapping Data names.
func transportLabel(wd message.KeyWrappingData) (string, bool) {
	if wd.EncryptionKeyInformation == nil {
		return "", false
	}
	return strings.CutPrefix(wd.EncryptionKeyInformation.UniqueIdentifier, TransportKeyPrefix)
}

// transportRequest builds the backend request of a transport-wrapped key:
// the mechanism follows from the Cryptographic Parameters (RSA: OAEP;
// DES3: CBC), or from the key named when there are none (an IKEY label
// means DES3).
func (s *Service) transportRequest(ctx context.Context, call *Call, label string, wd message.KeyWrappingData, encrypted []byte) (backend.TransportImporter, backend.TransportImportRequest, error) {
	var req backend.TransportImportRequest
	imp, ok := backend.As[backend.TransportImporter](s.backend)
	if !ok {
		return nil, req, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "this server's root of trust has no transport keys")
	}
	mech := backend.TransportRSAOAEP
	if p := wd.EncryptionKeyInformation.CryptographicParameters; p != nil {
		switch {
		case p.CryptographicAlgorithm == kmip14.CryptographicAlgorithmDES3 || p.BlockCipherMode == kmip14.BlockCipherModeCBC:
			mech = backend.TransportDES3CBCPad
		case p.PaddingMethod != 0 && p.PaddingMethod != kmip14.PaddingMethodOAEP:
			return nil, req, message.Errorf(kmip20.ResultReasonCryptographicFailure, "a TKEK import uses RSA-OAEP, not padding %s", p.PaddingMethod)
		}
	} else {
		// No parameters: the key named decides (the IKEY has no public part).
		keys, err := imp.TransportKeys(ctx)
		if err != nil {
			return nil, req, fmt.Errorf("transport keys: %w", err)
		}
		for _, k := range keys {
			if k.Label == label && k.Public == nil {
				mech = backend.TransportDES3CBCPad
			}
		}
	}
	tk, err := s.tenantKey(ctx, call.Tenant)
	if err != nil {
		return nil, req, err
	}
	return imp, backend.TransportImportRequest{Key: tk, Label: label, Mechanism: mech, Encrypted: encrypted, IV: wd.IVCounterNonce}, nil
}

// transportError maps a backend error of a transport import to a KMIP
// error: the client's mistakes are Cryptographic Failure (the key named or
// the ciphertext is wrong), a refused mechanism is Feature Not Supported.
func transportError(err error) error {
	switch {
	case errors.Is(err, backend.ErrTransportInput):
		return message.Errorf(kmip20.ResultReasonCryptographicFailure, "transport import: %v", err)
	case errors.Is(err, backend.ErrTransportRefused):
		return message.Errorf(kmip20.ResultReasonFeatureNotSupported, "transport import: %v", err)
	}
	return fmt.Errorf("transport import: %w", err)
}

// decryptTransport is unwrapWith for a transport key: the material is
// decrypted inside the root of trust.
func (s *Service) decryptTransport(ctx context.Context, call *Call, label string, wd message.KeyWrappingData, encrypted []byte) ([]byte, error) {
	imp, req, err := s.transportRequest(ctx, call, label, wd, encrypted)
	if err != nil {
		return nil, err
	}
	plain, err := imp.DecryptTransport(ctx, req)
	if err != nil {
		return nil, transportError(err)
	}
	return plain, nil
}

// keptImport is a transport import that stays inside the root of trust.
type keptImport struct {
	content registration
	bits    int32
}

// apply records in attrs what registerKey would have found in the
// material.
func (k *keptImport) apply(attrs *attr.List) {
	attrs.Set(attr.CryptographicAlgorithm, attr.Enum(uint32(kmip14.CryptographicAlgorithmAES)))
	attrs.Set(attr.CryptographicLength, attr.Int(k.bits))
	attrs.Set(attr.ProtectionStorageMask, attr.Int(int32(kmip20.ProtectionStorageMaskHardware)))
}

// importKept imports a transport-wrapped AES key of a Register as a kept
// key when it qualifies (see TransportKeyPrefix); nil means it does not,
// and the object goes the ordinary way (unwrapKeyBlock).
func (s *Service) importKept(ctx context.Context, call *Call, t kmip14.ObjectType, obj ttlv.TTLV, attrs *attr.List) (*keptImport, error) {
	if t != kmip14.ObjectTypeSymmetricKey {
		return nil, nil
	}
	var o message.SymmetricKey
	if err := message.Unmarshal(obj, &o); err != nil || len(o.KeyBlock.KeyWrappingData) == 0 {
		return nil, nil // unwrapKeyBlock and registerKey report what is wrong
	}
	kb := o.KeyBlock
	var wd message.KeyWrappingData
	if err := message.Unmarshal(kb.KeyWrappingData, &wd); err != nil {
		return nil, nil
	}
	label, ok := transportLabel(wd)
	if !ok || wd.WrappingMethod != kmip14.WrappingMethodEncrypt || wd.EncodingOption != kmip14.EncodingOptionNoEncoding ||
		kb.KeyFormatType != kmip14.KeyFormatTypeRaw || kb.KeyValue.Type() != ttlv.TypeByteString {
		return nil, nil
	}
	alg, length, err := givenParams(kb, *attrs)
	if err != nil {
		return nil, err
	}
	if alg != kmip14.CryptographicAlgorithmAES {
		return nil, nil
	}
	// The kept form ImportKept returns is the one KeepSecretKey makes.
	if _, keep, err := s.keeperFor(ctx, call, attrs); err != nil || !keep {
		return nil, err
	}
	imp, req, err := s.transportRequest(ctx, call, label, wd, kb.KeyValue.ValueByteString())
	if err != nil {
		return nil, err
	}
	wrapped, bits, err := imp.ImportKept(ctx, req)
	if err != nil {
		return nil, transportError(err)
	}
	if length != 0 && int(length) != bits {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Cryptographic Length %d does not match the %d-bit key imported", length, bits)
	}
	return &keptImport{
		content: registration{storedMaterial: storedMaterial{format: keptFormat, payload: wrapped}, noDigest: true},
		bits:    int32(bits),
	}, nil
}
