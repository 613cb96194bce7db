package ops

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// cipherRequest is what Encrypt and Decrypt share.
type cipherRequest struct {
	op      message.Operation
	encrypt bool
	params  *message.CryptographicParameters
	data    []byte
	iv      []byte
	aad     []byte
	tag     []byte
	corr    []byte
	init    bool
	final   bool
}

// cipherResult is what Encrypt and Decrypt answer besides the identifier.
type cipherResult struct {
	data, iv, corr, tag []byte
}

// runCipher runs one Encrypt or Decrypt request (or one part of it) with
// the key id.
func (s *Service) runCipher(ctx context.Context, call *Call, id string, r cipherRequest) (*cipherResult, error) {
	p, err := s.beginPart(call, r.op, id, r.corr, r.init, r.final, r.data)
	if err != nil {
		return nil, err
	}
	use, mask := useProcess, kmip14.CryptographicUsageMaskDecrypt
	if r.encrypt {
		use, mask = useProtect, kmip14.CryptographicUsageMaskEncrypt
	}
	k, err := s.usableKey(ctx, call, id, use, mask)
	if err != nil {
		return nil, err
	}
	defer k.forget()
	params := k.requestParams(r.params)
	if p.prior != nil {
		params = p.prior.params
	}
	if r.encrypt {
		if err := s.spendUsage(ctx, call, k, len(r.data)); err != nil {
			return nil, err
		}
	}
	switch key := k.key.(type) {
	case symmetricKey:
		return s.symmetricCipher(call, id, key, k.algorithm, params, r, p)
	case keptKey:
		if k.m.rec.ObjectType != uint32(kmip14.ObjectTypeSymmetricKey) {
			if key.family != kmip14.CryptographicAlgorithmRSA || r.encrypt {
				return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is a private key kept in the root of trust: it signs and (RSA) decrypts; encrypt with its public key", id)
			}
			if !p.final || p.prior != nil {
				return nil, message.Errorf(kmip20.ResultReasonInvalidField, "RSA encryption is single-part")
			}
			out, err := s.keptDecrypt(ctx, call, key, params, r.data)
			if err != nil {
				return nil, err
			}
			return &cipherResult{data: out}, nil
		}
		if key.family != kmip14.CryptographicAlgorithmAES {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is a %s key kept in the root of trust: it does not encrypt", id, key.family)
		}
		var res *cipherResult
		err := s.withKeptBlock(ctx, call, key, func(b cipher.Block) error {
			var err error
			res, err = s.runSymmetric(call, id, newSymCipher(params, r, b), params, r, p)
			return err
		})
		return res, err
	case *rsa.PublicKey, *rsa.PrivateKey:
		if !p.final || p.prior != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "RSA encryption is single-part")
		}
		out, err := rsaCipher(key, params, r.data, r.encrypt)
		if err != nil {
			return nil, err
		}
		return &cipherResult{data: out}, nil
	}
	return nil, message.Errorf(kmip20.ResultReasonInvalidField, "object %s is not a key that encrypts (%s)", id, k.algorithm)
}

// symmetricCipher runs a symmetric Encrypt or Decrypt part.
func (s *Service) symmetricCipher(call *Call, id string, key symmetricKey, alg kmip14.CryptographicAlgorithm, params message.CryptographicParameters, r cipherRequest, p part) (*cipherResult, error) {
	if !blockAlgorithm(alg) && blockAlgorithm(params.CryptographicAlgorithm) {
		alg = params.CryptographicAlgorithm // Secret Data, or a key of another recorded use
	}
	var c *symCipher
	switch alg {
	case algChaCha20, algChaCha20Poly1305:
		c = newSymCipher(params, r, nil)
		c.chacha, c.chachaPoly = key, alg == algChaCha20Poly1305
	default:
		block, err := newBlock(alg, key)
		if err != nil {
			return nil, err
		}
		c = newSymCipher(params, r, block)
	}
	return s.runSymmetric(call, id, c, params, r, p)
}

// newSymCipher sets up a symmetric operation with block (nil for
// ChaCha20).
func newSymCipher(params message.CryptographicParameters, r cipherRequest, block cipher.Block) *symCipher {
	c := &symCipher{block: block, mode: params.BlockCipherMode, padding: params.PaddingMethod, encrypt: r.encrypt, tagLen: 16, iv: r.iv, aad: r.aad}
	if params.TagLength != 0 {
		c.tagLen = int(params.TagLength)
	}
	return c
}

// runSymmetric runs a symmetric Encrypt or Decrypt part with c.
func (s *Service) runSymmetric(call *Call, id string, c *symCipher, params message.CryptographicParameters, r cipherRequest, p part) (*cipherResult, error) {
	if c.block != nil && params.BlockCipherMode == 0 {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "no Block Cipher Mode: the request and the key's Cryptographic Parameters name none")
	}
	res := &cipherResult{}
	if p.prior != nil {
		c.iv, c.aad = p.prior.iv, p.prior.aad
	} else if c.needsIV() && len(c.iv) == 0 {
		if !r.encrypt {
			// The profiles' test cases (CS-BC-M-11, 12, 13) answer
			// Invalid Message for a decryption without its IV.
			return nil, message.Errorf(kmip20.ResultReasonInvalidMessage, "%s decryption needs the IV/Counter/Nonce", c.mode)
		}
		n := c.defaultIVLength()
		// IV Length is in bits (KMIP 1.4 section 3.6). CBC and CTR take a
		// block; for GCM a length of 64 bits or more is taken, anything
		// else (some clients give 12, meaning bytes) means the default.
		if c.mode == kmip14.BlockCipherModeGCM && params.IVLength >= 64 && params.IVLength <= 1024 && params.IVLength%8 == 0 {
			n = int(params.IVLength / 8)
		}
		c.iv = make([]byte, n)
		if _, err := rand.Read(c.iv); err != nil {
			return nil, err
		}
		res.iv = c.iv
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if (c.mode == kmip14.BlockCipherModeGCM || c.chachaPoly) && !call.Version.AtLeast(message.V1_4) {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "authenticated encryption needs KMIP 1.4 (the Authenticated Encryption Tag)")
	}
	if !p.final && !c.streams() {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "%s is single-part", c.mode)
	}
	out, tag, err := c.run(p.data, p.final, r.tag)
	if err != nil {
		return nil, err
	}
	emitted := 0
	if p.prior != nil {
		emitted = p.prior.emitted
	}
	if emitted > len(out) {
		emitted = len(out)
	}
	res.data, res.tag = out[emitted:], tag
	if !p.final {
		if res.corr, err = s.keep(call, r.op, id, p, params, c.iv, c.aad, len(out)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// rsaCipher encrypts or decrypts with RSA: OAEP (the default; SHA-1 for
// the hash and MGF1 unless the parameters name others, P Source as the
// label) or PKCS#1 v1.5.
func rsaCipher(key any, params message.CryptographicParameters, data []byte, encrypt bool) ([]byte, error) {
	var pub *rsa.PublicKey
	priv, isPriv := key.(*rsa.PrivateKey)
	if isPriv {
		pub = &priv.PublicKey
	} else {
		pub = key.(*rsa.PublicKey)
	}
	if !encrypt && !isPriv {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "decryption needs the RSA private key, not the public key")
	}
	fail := func(err error) error {
		if encrypt {
			return message.Errorf(kmip20.ResultReasonInvalidField, "RSA encryption: %v", err)
		}
		return message.Errorf(kmip20.ResultReasonCryptographicFailure, "RSA decryption failed")
	}
	switch params.PaddingMethod {
	case 0, kmip14.PaddingMethodOAEP:
		h, err := hashOf(params.HashingAlgorithm, crypto.SHA1)
		if err != nil {
			return nil, err
		}
		mgf, err := hashOf(params.MaskGeneratorHashingAlgorithm, crypto.SHA1)
		if err != nil {
			return nil, err
		}
		opts := &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: params.PSource}
		var out []byte
		if encrypt {
			out, err = rsa.EncryptOAEPWithOptions(rand.Reader, pub, data, opts)
		} else {
			out, err = priv.Decrypt(rand.Reader, data, opts)
		}
		if err != nil {
			return nil, fail(err)
		}
		return out, nil
	case kmip14.PaddingMethodPKCS1V1_5:
		var out []byte
		var err error
		// PKCS#1 v1.5 encryption is what clients name when they want it
		// (KMIP's Padding Method PKCS1 v1.5); OAEP is the default. Every
		// decryption failure answers the same reason and message.
		if encrypt {
			out, err = rsa.EncryptPKCS1v15(rand.Reader, pub, data) //lint:ignore SA1019 asked for by name, see above
		} else {
			out, err = rsa.DecryptPKCS1v15(rand.Reader, priv, data) //lint:ignore SA1019 asked for by name, see above
		}
		if err != nil {
			return nil, fail(err)
		}
		return out, nil
	}
	return nil, message.Errorf(kmip20.ResultReasonInvalidField, "Padding Method %s is not supported for RSA encryption (OAEP and PKCS1 v1.5 are)", params.PaddingMethod)
}

// blockAlgorithm reports whether alg is a block cipher the server runs.
func blockAlgorithm(alg kmip14.CryptographicAlgorithm) bool {
	switch alg {
	case kmip14.CryptographicAlgorithmAES, kmip14.CryptographicAlgorithmDES3, kmip14.CryptographicAlgorithmDES,
		algChaCha20, algChaCha20Poly1305:
		return true
	}
	return false
}
