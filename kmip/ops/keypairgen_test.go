package ops_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// pairMaker is a root of trust that generates key pairs
// (backend.KeyPairGenerator): it records each request and the key it
// made, so a test sees that the operations store that key and made none
// themselves. refuse answers ErrNoKeyPairGenerator (a Router whose tenant
// is on a cloud KMS); fail answers an HSM failure.
type pairMaker struct {
	*kmiptest.SoftBackend
	mu     sync.Mutex
	reqs   []backend.GenerateKeyPairRequest
	made   []crypto.Signer
	refuse bool
	fail   bool
}

func (p *pairMaker) GenerateKeyPair(_ context.Context, req backend.GenerateKeyPairRequest) (crypto.Signer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, req)
	switch {
	case p.refuse:
		return nil, fmt.Errorf("tenant on a KMS: %w", backend.ErrNoKeyPairGenerator)
	case p.fail:
		return nil, fmt.Errorf("%w: C_GenerateKeyPair: CKR_DEVICE_ERROR", backend.ErrUnavailable)
	}
	var k crypto.Signer
	var err error
	if req.RSABits != 0 {
		k, err = rsa.GenerateKey(rand.Reader, req.RSABits)
	} else {
		k, err = ecdsa.GenerateKey(req.Curve, rand.Reader)
	}
	if err == nil {
		p.made = append(p.made, k)
	}
	return k, err
}

// TestCreateKeyPairInTheRootOfTrust: an extractable pair of Create Key
// Pair is made by a root of trust that generates key pairs, and the
// private key a client then gets is that one; the pair the tenant asks
// for (RSA length, curve) is what is asked of the root. A root that
// says it does not generate for this tenant leaves it to Go; a failing
// one fails the request (no silent fallback to Go's random).
func TestCreateKeyPairInTheRootOfTrust(t *testing.T) {
	p := &pairMaker{SoftBackend: kmiptest.NewSoftBackend()}
	x := keeperExecutor(t, p)
	v := message.V2_1
	for _, tt := range []struct {
		alg    kmip14.CryptographicAlgorithm
		length int32
		want   backend.GenerateKeyPairRequest
	}{
		{kmip14.CryptographicAlgorithmRSA, 2048, backend.GenerateKeyPairRequest{RSABits: 2048}},
		{kmip14.CryptographicAlgorithmEC, 256, backend.GenerateKeyPairRequest{Curve: elliptic.P256()}},
		{kmip14.CryptographicAlgorithmEC, 384, backend.GenerateKeyPairRequest{Curve: elliptic.P384()}},
		{kmip14.CryptographicAlgorithmECDSA, 521, backend.GenerateKeyPairRequest{Curve: elliptic.P521()}},
	} {
		t.Run(fmt.Sprintf("%s-%d", tt.alg, tt.length), func(t *testing.T) {
			p.mu.Lock()
			p.reqs, p.made = nil, nil
			p.mu.Unlock()
			it := kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, createKeyPairPayload(v, tt.alg, tt.length, "hsm-pair"))
			ok(t, it)
			var ids struct{ PrivateKeyUniqueIdentifier, PublicKeyUniqueIdentifier string }
			kmiptest.Decode(t, it.ResponsePayload, &ids)
			p.mu.Lock()
			require.Len(t, p.reqs, 1)
			assert.Equal(t, tt.want.RSABits, p.reqs[0].RSABits)
			assert.Equal(t, tt.want.Curve, p.reqs[0].Curve)
			assert.NotEmpty(t, p.reqs[0].Key.Blob, "asked with the tenant's key")
			made := p.made[0]
			p.mu.Unlock()
			der := getKeyDER(t, x, v, ids.PrivateKeyUniqueIdentifier, kmip14.KeyFormatTypePKCS_8)
			got, err := x509.ParsePKCS8PrivateKey(der)
			require.NoError(t, err)
			assert.True(t, made.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got), "the private key served is the one the root of trust made")
			pubDER := getKeyDER(t, x, v, ids.PublicKeyUniqueIdentifier, kmip14.KeyFormatTypeX_509)
			pub, err := x509.ParsePKIXPublicKey(pubDER)
			require.NoError(t, err)
			assert.True(t, made.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub))
		})
	}

	p.mu.Lock()
	p.refuse, p.made = true, nil
	p.mu.Unlock()
	ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, createKeyPairPayload(v, kmip14.CryptographicAlgorithmEC, 256, "go-pair")))
	p.mu.Lock()
	assert.Empty(t, p.made, "made in Go for a tenant whose root does not generate")
	p.refuse, p.fail = false, true
	p.mu.Unlock()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, createKeyPairPayload(v, kmip14.CryptographicAlgorithmEC, 256, "failed-pair"))
	assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus, "an HSM failure is not papered over with Go's generation")
}
