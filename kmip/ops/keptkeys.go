package ops

import (
	"bytes"
	"context"
	"crypto"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Keys kept inside the root of trust (backend.KeyKeeper). A key a client
// creates non-Extractable (KMIP 1.4 section 3.40, 2.1 section 4.21; or
// any key of a client whose policy says so: KMIP 1.0 to 1.3 have no
// Extractable attribute) is, when the backend can keep keys, made inside
// the root of trust and only ever used there: an AES key (Create) for
// Encrypt, Decrypt, MAC (CMAC) and key wrapping; the private key of an
// RSA or EC pair (Create Key Pair) for Sign. What the store keeps is its
// wrapped form, sealed like any material with the format keptFormat;
// Get and Export refuse it (Not Extractable), as for any non-Extractable
// key. A registered (or imported) raw AES key enters the root of trust
// once and is kept likewise. Keys of other algorithms and keys on a
// backend that keeps none are kept in the adapter's store as usual, and
// equally refused to Get.

// keptFormat marks sealed material that is a kept key's wrapped form. It
// is a value in the vendor range that never goes on the wire (the Key
// Format Type attribute says what the key would be: Raw or PKCS#8).
const keptFormat = kmip14.KeyFormatType(0x8000_4B50)

// keptKey is a kept key as the operations hold it: its wrapped form.
type keptKey struct {
	wrapped []byte
	// bits is the key's Cryptographic Length (for an EC key, its curve's).
	bits int32
	// family is RSA or ECDSA for a private key, AES for a secret key.
	family kmip14.CryptographicAlgorithm
}

// keeperFor reports whether a new key with attrs is kept in the root of
// trust, and by which keeper: it is not Extractable (the client's policy
// makes that the default, for all keys or for wrapping keys) and the
// backend keeps keys (for this tenant: a Router keeps keys only for
// tenants on a root of trust that can).
func (s *Service) keeperFor(ctx context.Context, call *Call, attrs *attr.List) (backend.KeyKeeper, bool, error) {
	if _, given := attrs.Get(attr.Extractable); !given {
		var mask int32
		if a, ok := attrs.Get(attr.CryptographicUsageMask); ok {
			mask, _ = a.Int()
		}
		wrapping := mask&int32(kmip14.CryptographicUsageMaskWrapKey|kmip14.CryptographicUsageMaskUnwrapKey) != 0
		if call.Policy.NonExtractableKeys || call.Policy.WrappingKeysNonExtractable && wrapping {
			attrs.Set(attr.Extractable, attr.Bool(false))
		}
	}
	if flag(*attrs, attr.Extractable, true) {
		return nil, false, nil
	}
	k, ok := backend.As[backend.KeyKeeper](s.backend)
	if !ok {
		return nil, false, nil
	}
	if c, ok := backend.As[backend.KeepChecker](s.backend); ok {
		tk, err := s.tenantKey(ctx, call.Tenant)
		if err != nil {
			return nil, false, err
		}
		if !c.CanKeep(tk) {
			return nil, false, nil
		}
	}
	return k, true, nil
}

// keepable reports whether the root of trust keeps a new symmetric key
// of spec: AES keys, and HMAC keys at least as long as their hash's output
// (shorter ones are weak, and SoftHSM2 refuses them: CKR_KEY_SIZE_RANGE).
func keepable(spec symmetricSpec) bool {
	if spec.algorithm == kmip14.CryptographicAlgorithmAES {
		return true
	}
	h, ok := keptHMACHash(spec.algorithm)
	return ok && int(spec.length) >= 8*h.Size()
}

// keptHMACHash is the hash of an HMAC algorithm a kept key can have.
func keptHMACHash(alg kmip14.CryptographicAlgorithm) (crypto.Hash, bool) {
	switch alg {
	case kmip14.CryptographicAlgorithmHMAC_SHA1, kmip14.CryptographicAlgorithmHMAC_SHA224, kmip14.CryptographicAlgorithmHMAC_SHA256,
		kmip14.CryptographicAlgorithmHMAC_SHA384, kmip14.CryptographicAlgorithmHMAC_SHA512:
		return hmacHashes[alg], true
	}
	return 0, false
}

// createKept is Create for a kept AES or HMAC key.
func (s *Service) createKept(ctx context.Context, call *Call, keeper backend.KeyKeeper, attrs attr.List, spec symmetricSpec) (any, error) {
	sealed, err := s.keptMaterial(ctx, call, keeper, &attrs, spec)
	if err != nil {
		return nil, err
	}
	m, err := s.insert(ctx, call, newObject{Type: kmip14.ObjectTypeSymmetricKey, Attrs: attrs, Material: sealed, Format: kmip14.KeyFormatTypeRaw, Generated: true})
	if err != nil {
		return nil, err
	}
	return &message.CreateResponse{ObjectType: kmip14.ObjectTypeSymmetricKey, UniqueIdentifier: m.rec.ID}, nil
}

// keptMaterial makes a kept AES key and returns what insert seals for
// it; it records in attrs that the key is in hardware.
func (s *Service) keptMaterial(ctx context.Context, call *Call, keeper backend.KeyKeeper, attrs *attr.List, spec symmetricSpec) ([]byte, error) {
	tk, err := s.tenantKey(ctx, call.Tenant)
	if err != nil {
		return nil, err
	}
	req := backend.KeepSecretKeyRequest{Key: tk, Bits: int(spec.length)}
	req.HMAC, _ = keptHMACHash(spec.algorithm)
	wrapped, err := keeper.KeepSecretKey(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("keep %s key: %w", spec.algorithm, err)
	}
	attrs.Set(attr.ProtectionStorageMask, attr.Int(int32(kmip20.ProtectionStorageMaskHardware)))
	return storedMaterial{format: keptFormat, payload: wrapped}.seal(), nil
}

// keepPair makes a kept key pair as privAttrs ask (see generatePair) and
// returns its public key and the private key's wrapped form.
func keepPair(ctx context.Context, keeper backend.KeyKeeper, call *Call, s *Service, privAttrs *attr.List) (crypto.PublicKey, []byte, error) {
	alg, length, err := cryptoParams(*privAttrs)
	if err != nil {
		return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
	}
	req := backend.KeepKeyPairRequest{}
	switch kmip14.CryptographicAlgorithm(alg) {
	case kmip14.CryptographicAlgorithmRSA:
		req.RSABits = int(length)
	case kmip14.CryptographicAlgorithmEC, kmip14.CryptographicAlgorithmECDSA:
		curve, ok := ecCurves[length]
		if !ok {
			return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "EC keys are on P-256, P-384 or P-521, not a %d-bit curve", length)
		}
		req.Curve = curve
	default:
		// generatePair answers what is wrong with the request.
		if _, err := pairRequest(*privAttrs); err != nil {
			return nil, nil, err
		}
		return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "a non-Extractable key pair is kept in the root of trust, which keeps RSA and EC keys only")
	}
	if req.RSABits != 0 && !contains(rsaLengths, length) {
		return nil, nil, message.Errorf(kmip20.ResultReasonInvalidField, "RSA keys are %v bits, not %d", rsaLengths, length)
	}
	if req.Key, err = s.tenantKey(ctx, call.Tenant); err != nil {
		return nil, nil, err
	}
	pub, wrapped, err := keeper.KeepKeyPair(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("keep key pair: %w", err)
	}
	privAttrs.Set(attr.ProtectionStorageMask, attr.Int(int32(kmip20.ProtectionStorageMaskHardware)))
	return pub, wrapped, nil
}

func contains(l []int32, v int32) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// keptRequest names a kept key of the caller's tenant.
func (s *Service) keptRequest(ctx context.Context, call *Call, k keptKey) (backend.KeyKeeper, backend.KeptKeyRequest, error) {
	keeper, ok := backend.As[backend.KeyKeeper](s.backend)
	if !ok {
		return nil, backend.KeptKeyRequest{}, fmt.Errorf("%w: the object's key is kept in a root of trust that this backend is not", backend.ErrKeyMissing)
	}
	tk, err := s.tenantKey(ctx, call.Tenant)
	if err != nil {
		return nil, backend.KeptKeyRequest{}, err
	}
	return keeper, backend.KeptKeyRequest{Key: tk, Wrapped: bytes.Clone(k.wrapped)}, nil
}

// withKeptBlock runs fn with the block cipher of a kept AES key.
func (s *Service) withKeptBlock(ctx context.Context, call *Call, k keptKey, fn func(cipher.Block) error) error {
	keeper, req, err := s.keptRequest(ctx, call, k)
	if err != nil {
		return err
	}
	var fnErr error
	err = keeper.WithKeptBlock(ctx, req, func(b cipher.Block) error {
		fnErr = fn(b)
		return fnErr
	})
	if fnErr != nil {
		return fnErr // the operation's own answer (a wrong tag...)
	}
	return err
}

// keptSign signs digest with a kept private key.
func (s *Service) keptSign(ctx context.Context, call *Call, k keptKey, family kmip14.CryptographicAlgorithm, sc signScheme, digest []byte) ([]byte, error) {
	keeper, req, err := s.keptRequest(ctx, call, k)
	if err != nil {
		return nil, err
	}
	sr := backend.KeptSignRequest{KeptKeyRequest: req, Hash: sc.hash, SaltLength: sc.salt, Digest: digest}
	switch {
	case family != kmip14.CryptographicAlgorithmRSA:
		sr.Scheme = backend.SignECDSA
	case sc.padding == kmip14.PaddingMethodPSS:
		sr.Scheme = backend.SignPSS
	default:
		sr.Scheme = backend.SignPKCS1v15
	}
	return keeper.KeptSign(ctx, sr)
}

// keptDecrypt decrypts (or unwraps) data with a kept RSA private key as
// params say: OAEP (SHA-1 by default, as rsaCipher) or PKCS#1 v1.5. Every
// failure to decrypt is the same answer, as for a key in the store.
func (s *Service) keptDecrypt(ctx context.Context, call *Call, k keptKey, params message.CryptographicParameters, data []byte) ([]byte, error) {
	keeper, req, err := s.keptRequest(ctx, call, k)
	if err != nil {
		return nil, err
	}
	dr := backend.KeptDecryptRequest{KeptKeyRequest: req, Ciphertext: data}
	switch params.PaddingMethod {
	case 0, kmip14.PaddingMethodOAEP:
		dr.Scheme, dr.Label = backend.DecryptOAEP, params.PSource
		if dr.Hash, err = hashOf(params.HashingAlgorithm, crypto.SHA1); err != nil {
			return nil, err
		}
		if dr.MGFHash, err = hashOf(params.MaskGeneratorHashingAlgorithm, crypto.SHA1); err != nil {
			return nil, err
		}
	case kmip14.PaddingMethodPKCS1V1_5:
		dr.Scheme = backend.DecryptPKCS1v15
	default:
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Padding Method %s is not supported for RSA encryption (OAEP and PKCS1 v1.5 are)", params.PaddingMethod)
	}
	out, err := keeper.KeptDecrypt(ctx, dr)
	if errors.Is(err, backend.ErrDecrypt) {
		return nil, message.Errorf(kmip20.ResultReasonCryptographicFailure, "RSA decryption failed")
	}
	return out, err
}

// keptMAC is the HMAC of data with a kept HMAC key.
func (s *Service) keptMAC(ctx context.Context, call *Call, k keptKey, data []byte) ([]byte, error) {
	h, ok := keptHMACHash(k.family)
	if !ok {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the kept key is not an HMAC key")
	}
	keeper, req, err := s.keptRequest(ctx, call, k)
	if err != nil {
		return nil, err
	}
	return keeper.KeptMAC(ctx, backend.KeptMACRequest{KeptKeyRequest: req, Hash: h, Data: data})
}

// keepRegistered keeps a registered AES key in the root of trust when it
// is not Extractable and the backend keeps keys: its material, which the
// client sent, enters the root of trust once and the store holds only its
// wrapped form (and no Digest, as for a generated kept key).
func (s *Service) keepRegistered(ctx context.Context, call *Call, t kmip14.ObjectType, attrs *attr.List, r registration) (registration, error) {
	if t != kmip14.ObjectTypeSymmetricKey || r.format != kmip14.KeyFormatTypeRaw {
		return r, nil
	}
	alg, _, err := cryptoParams(*attrs)
	if err != nil || !keepable(symmetricSpec{algorithm: kmip14.CryptographicAlgorithm(alg), length: int32(8 * len(r.payload))}) {
		return r, nil
	}
	keeper, keep, err := s.keeperFor(ctx, call, attrs)
	if err != nil || !keep {
		return r, err
	}
	tk, err := s.tenantKey(ctx, call.Tenant)
	if err != nil {
		return r, err
	}
	req := backend.KeepSecretKeyRequest{Key: tk, Bits: len(r.payload) * 8, Material: r.payload}
	req.HMAC, _ = keptHMACHash(kmip14.CryptographicAlgorithm(alg))
	wrapped, err := keeper.KeepSecretKey(ctx, req)
	if err != nil {
		return r, fmt.Errorf("keep registered %s key: %w", kmip14.CryptographicAlgorithm(alg), err)
	}
	clear(r.payload)
	attrs.Set(attr.ProtectionStorageMask, attr.Int(int32(kmip20.ProtectionStorageMaskHardware)))
	return registration{storedMaterial: storedMaterial{format: keptFormat, payload: wrapped}, noDigest: true}, nil
}

// recordedFormat is the Key Format Type attribute of material sealed in
// format f: a kept key says what it is, Raw.
func recordedFormat(f kmip14.KeyFormatType) kmip14.KeyFormatType {
	if f == keptFormat {
		return kmip14.KeyFormatTypeRaw
	}
	return f
}
