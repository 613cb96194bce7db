package ops

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"errors"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Key wrapping (KMIP 1.4 sections 2.1.5, 2.1.6 and 12.1): Get and Export
// return a key wrapped under another managed key when the client gives a
// Key Wrapping Specification; Register and Import take wrapped Key Blocks
// and unwrap them with the managed key their Key Wrapping Data names.
//
// Wrapping Method Encrypt only (MAC/sign wrapping is refused). The
// wrapping key is an AES key (NIST Key Wrap by default, AES Key Wrap with
// Padding when the material is not a multiple of 8 bytes; ECB, CBC and
// CTR on request) or an RSA key (OAEP by default, PKCS#1 v1.5 on request).
// What is wrapped follows the Encoding Option: the Key Material's bytes
// (No Encoding), or by default the TTLV encoding of the Key Value, with
// the attributes the specification names.

// wrapKey wraps the Key Block kb of object m under the key the
// specification names and returns the wrapped Key Block.
func (s *Service) wrapKey(ctx context.Context, call *Call, specItem ttlv.TTLV, kb message.KeyBlock, m *managed) (message.KeyBlock, error) {
	var spec message.KeyWrappingSpecification
	if err := message.Unmarshal(specItem, &spec); err != nil {
		return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonInvalidMessage, "Key Wrapping Specification: %v", err)
	}
	if spec.WrappingMethod != kmip14.WrappingMethodEncrypt {
		return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "Wrapping Method %s is not supported (Encrypt is)", spec.WrappingMethod)
	}
	if spec.MACSignatureKeyInformation != nil {
		return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "MAC/signature wrapping is not supported")
	}
	if spec.EncryptionKeyInformation == nil || spec.EncryptionKeyInformation.UniqueIdentifier == "" {
		return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonMissingData, "the Key Wrapping Specification names no Encryption Key Information")
	}
	wrapID := spec.EncryptionKeyInformation.UniqueIdentifier
	if wrapID == m.rec.ID {
		return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonInvalidField, "a key cannot wrap itself")
	}
	var plain []byte
	switch spec.EncodingOption {
	case kmip14.EncodingOptionNoEncoding:
		item, err := kb.Material()
		if err != nil {
			return message.KeyBlock{}, err
		}
		if item.Type() != ttlv.TypeByteString {
			return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonEncodingOptionError, "key material in format %s is a structure: wrap it with TTLV Encoding", kb.KeyFormatType)
		}
		plain = bytes.Clone(item.ValueByteString())
	case 0, kmip14.EncodingOptionTTLVEncoding:
		value, err := keyValueWith(call.Version, kb.KeyValue, m.attrs, spec.AttributeName)
		if err != nil {
			return message.KeyBlock{}, err
		}
		plain = value
	default:
		return message.KeyBlock{}, message.Errorf(kmip20.ResultReasonEncodingOptionError, "Encoding Option %s is not supported", spec.EncodingOption)
	}
	defer clear(plain)
	wrapped, iv, err := s.wrapWith(ctx, call, wrapID, spec.EncryptionKeyInformation.CryptographicParameters, plain)
	if err != nil {
		return message.KeyBlock{}, err
	}
	data := message.KeyWrappingData{
		WrappingMethod:           kmip14.WrappingMethodEncrypt,
		EncryptionKeyInformation: spec.EncryptionKeyInformation,
		IVCounterNonce:           iv,
		EncodingOption:           spec.EncodingOption,
	}
	wd, err := message.Marshal(data)
	if err != nil {
		return message.KeyBlock{}, err
	}
	wd = attr.Retag(wd, kmip14.TagKeyWrappingData)
	kb.KeyValue = message.WrappedKeyValue(wrapped)
	kb.KeyWrappingData = wd
	return kb, nil
}

// keyValueWith is the TTLV encoding of a Key Value holding the material
// of value and the named attributes of the object (1.x Attribute items,
// or a 2.x Attributes structure).
func keyValueWith(v message.Version, value ttlv.TTLV, attrs attr.List, names []string) ([]byte, error) {
	var material ttlv.TTLV
	for _, c := range attr.Children(value) {
		if c.Tag() == kmip14.TagKeyMaterial {
			material = c
		}
	}
	if len(names) == 0 {
		return bytes.Clone(attr.Structure(kmip14.TagKeyValue, material)), nil
	}
	var chosen attr.List
	for _, name := range names {
		all := attrs.All(name)
		if len(all) == 0 {
			return nil, message.Errorf(kmip20.ResultReasonAttributeNotFound, "the key has no attribute %q to wrap with it", name)
		}
		chosen = append(chosen, all...)
	}
	children := []ttlv.TTLV{material}
	if v.AtLeast(message.V2_0) {
		enc, err := message.EncodeAttributes(v, kmip20.TagAttributes, chosen)
		if err != nil {
			return nil, err
		}
		children = append(children, enc)
	} else {
		enc, err := message.EncodeAttributes(v, kmip14.TagKeyValue, chosen)
		if err != nil {
			return nil, err
		}
		children = append(children, attr.Children(enc)...)
	}
	return attr.Structure(kmip14.TagKeyValue, children...), nil
}

// wrapWith encrypts plain under the managed key id, which must be usable
// for Wrap Key; iv is the IV it generated, if any.
func (s *Service) wrapWith(ctx context.Context, call *Call, id string, reqParams *message.CryptographicParameters, plain []byte) (wrapped, iv []byte, err error) {
	k, err := s.usableKey(ctx, call, id, useProtect, kmip14.CryptographicUsageMaskWrapKey)
	if err != nil {
		return nil, nil, err
	}
	defer k.forget()
	params := k.requestParams(reqParams)
	switch key := k.key.(type) {
	case keptKey:
		if key.family != kmip14.CryptographicAlgorithmAES {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is a private key kept in the root of trust: it does not wrap", id)
		}
		err := s.withKeptBlock(ctx, call, key, func(b cipher.Block) error {
			c, err := wrapCipherBlock(b, params, len(plain), true)
			if err != nil {
				return err
			}
			wrapped, iv, err = runWrap(c, plain)
			return err
		})
		return wrapped, iv, err
	case symmetricKey:
		block, err := newBlock(k.algorithm, key)
		if err != nil {
			return nil, nil, err
		}
		c, err := wrapCipherBlock(block, params, len(plain), true)
		if err != nil {
			return nil, nil, err
		}
		return runWrap(c, plain)
	case *rsa.PublicKey, *rsa.PrivateKey:
		out, err := rsaCipher(key, params, plain, true)
		return out, nil, err
	}
	return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is not a key that wraps", id)
}

// runWrap wraps plain with c, generating the IV its mode needs.
func runWrap(c *symCipher, plain []byte) (wrapped, iv []byte, err error) {
	if c.needsIV() {
		c.iv = make([]byte, c.defaultIVLength())
		if _, err := rand.Read(c.iv); err != nil {
			return nil, nil, err
		}
	}
	out, _, err := c.run(plain, true, nil)
	return out, c.iv, err
}

// unwrapWith decrypts wrapped with the managed key id, which must be
// usable for Unwrap Key.
func (s *Service) unwrapWith(ctx context.Context, call *Call, id string, reqParams *message.CryptographicParameters, wrapped, iv []byte) ([]byte, error) {
	k, err := s.usableKey(ctx, call, id, useProcess, kmip14.CryptographicUsageMaskUnwrapKey)
	if err != nil {
		return nil, err
	}
	defer k.forget()
	params := k.requestParams(reqParams)
	switch key := k.key.(type) {
	case keptKey:
		if key.family == kmip14.CryptographicAlgorithmRSA && k.m.rec.ObjectType == uint32(kmip14.ObjectTypePrivateKey) {
			return s.keptDecrypt(ctx, call, key, params, wrapped)
		}
		if key.family != kmip14.CryptographicAlgorithmAES {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is a %s key kept in the root of trust: it does not unwrap", id, key.family)
		}
		var out []byte
		err := s.withKeptBlock(ctx, call, key, func(b cipher.Block) error {
			var err error
			out, err = runUnwrap(b, params, wrapped, iv)
			return err
		})
		return out, err
	case symmetricKey:
		block, err := newBlock(k.algorithm, key)
		if err != nil {
			return nil, err
		}
		return runUnwrap(block, params, wrapped, iv)
	case *rsa.PrivateKey:
		return rsaCipher(key, params, wrapped, false)
	}
	return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is not a key that unwraps", id)
}

// runUnwrap unwraps with block as params say.
func runUnwrap(block cipher.Block, params message.CryptographicParameters, wrapped, iv []byte) ([]byte, error) {
	c, err := wrapCipherBlock(block, params, len(wrapped)-8, false)
	if err != nil {
		return nil, err
	}
	c.iv = iv
	out, _, err := c.run(wrapped, true, nil)
	if errors.Is(err, errUnwrap) && params.BlockCipherMode == 0 {
		// No mode named: KW by default, but a KWP-wrapped key has its
		// own integrity value and says so.
		c.mode = kmip14.BlockCipherModeAESKeyWrapPadding
		out, _, err = c.run(wrapped, true, nil)
	}
	return out, err
}

// wrapCipherBlock is the symmetric cipher that wraps n bytes with block.
func wrapCipherBlock(block cipher.Block, params message.CryptographicParameters, n int, encrypt bool) (*symCipher, error) {
	c := &symCipher{block: block, mode: params.BlockCipherMode, padding: params.PaddingMethod, encrypt: encrypt}
	if c.mode == 0 {
		c.mode = kmip14.BlockCipherModeNISTKeyWrap
		if n%8 != 0 || n < 16 {
			c.mode = kmip14.BlockCipherModeAESKeyWrapPadding
		}
	}
	if c.mode == kmip14.BlockCipherModeGCM {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "GCM has no place for its tag in Key Wrapping Data: use NIST Key Wrap or AES Key Wrap with Padding")
	}
	if c.mode == kmip14.BlockCipherModeECB || c.mode == kmip14.BlockCipherModeCBC {
		if c.padding == 0 {
			c.padding = kmip14.PaddingMethodPKCS5
		}
	}
	return c, nil
}

// unwrapKeyBlock turns the wrapped Key Block of a Register or Import
// object (the object structure obj of type t) into the same object with
// the plain Key Block; an object without Key Wrapping Data comes back as
// it is.
func (s *Service) unwrapKeyBlock(ctx context.Context, call *Call, obj ttlv.TTLV) (ttlv.TTLV, error) {
	var kbItem ttlv.TTLV
	for _, c := range attr.Children(obj) {
		if c.Tag() == kmip14.TagKeyBlock {
			kbItem = c
		}
	}
	if kbItem == nil {
		return obj, nil
	}
	var kb message.KeyBlock
	if err := message.Unmarshal(kbItem, &kb); err != nil {
		return nil, message.Errorf(kmip20.ResultReasonInvalidMessage, "Key Block: %v", err)
	}
	if len(kb.KeyWrappingData) == 0 {
		return obj, nil
	}
	var wd message.KeyWrappingData
	if err := message.Unmarshal(kb.KeyWrappingData, &wd); err != nil {
		return nil, message.Errorf(kmip20.ResultReasonInvalidMessage, "Key Wrapping Data: %v", err)
	}
	switch {
	case wd.WrappingMethod != kmip14.WrappingMethodEncrypt:
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "Wrapping Method %s is not supported (Encrypt is)", wd.WrappingMethod)
	case wd.MACSignatureKeyInformation != nil:
		return nil, message.Errorf(kmip20.ResultReasonFeatureNotSupported, "MAC/signature wrapping is not supported")
	case wd.EncryptionKeyInformation == nil || wd.EncryptionKeyInformation.UniqueIdentifier == "":
		return nil, message.Errorf(kmip20.ResultReasonMissingData, "the Key Wrapping Data names no Encryption Key Information")
	case kb.KeyValue.Type() != ttlv.TypeByteString:
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "a wrapped Key Value is a Byte String")
	}
	var plain []byte
	var err error
	if label, ok := transportLabel(wd); ok { // transport.go
		plain, err = s.decryptTransport(ctx, call, label, wd, kb.KeyValue.ValueByteString())
	} else {
		plain, err = s.unwrapWith(ctx, call, wd.EncryptionKeyInformation.UniqueIdentifier, wd.EncryptionKeyInformation.CryptographicParameters, kb.KeyValue.ValueByteString(), wd.IVCounterNonce)
	}
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var value ttlv.TTLV
	switch wd.EncodingOption {
	case kmip14.EncodingOptionNoEncoding:
		value = message.NewKeyValue(message.KeyMaterialBytes(plain))
	case 0, kmip14.EncodingOptionTTLVEncoding:
		item := ttlv.TTLV(plain)
		if err := item.Valid(); err != nil || item.Tag() != kmip14.TagKeyValue || item.Type() != ttlv.TypeStructure || item.FullLen() != len(plain) {
			return nil, message.Errorf(kmip20.ResultReasonEncodingOptionError, "the unwrapped data is not a TTLV-encoded Key Value")
		}
		var material ttlv.TTLV
		for _, c := range attr.Children(item) {
			if c.Tag() == kmip14.TagKeyMaterial {
				material = c
			}
		}
		if material == nil {
			return nil, message.Errorf(kmip20.ResultReasonEncodingOptionError, "the unwrapped Key Value holds no Key Material")
		}
		value = message.NewKeyValue(bytes.Clone(material))
	default:
		return nil, message.Errorf(kmip20.ResultReasonEncodingOptionError, "Encoding Option %s is not supported", wd.EncodingOption)
	}
	var children []ttlv.TTLV
	for _, c := range attr.Children(kbItem) {
		switch c.Tag() {
		case kmip14.TagKeyValue:
			children = append(children, value)
		case kmip14.TagKeyWrappingData:
		default:
			children = append(children, c)
		}
	}
	newKB := attr.Structure(kmip14.TagKeyBlock, children...)
	var objChildren []ttlv.TTLV
	for _, c := range attr.Children(obj) {
		if c.Tag() == kmip14.TagKeyBlock {
			c = newKB
		}
		objChildren = append(objChildren, c)
	}
	return attr.Structure(obj.Tag(), objChildren...), nil
}
