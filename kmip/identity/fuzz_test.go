package identity_test

import (
	"context"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// FuzzIdentify presents client certificates with any subject, from the
// server's CA, a tenant's CA, or a rogue CA that carries the tenant CA's
// name, then any Authentication structure on the first request. Nothing
// panics; a rogue certificate is never identified, whatever its name
// matches; a client that needs a credential never passes without the
// right one.
func FuzzIdentify(f *testing.F) {
	ctx := context.Background()
	fx := newFixture(f, "")
	rogue, err := certs.NewCA("VMCA", certs.KeyTypeECDSA)
	require.NoError(f, err)
	// The vCenter client of tenant b needs a username and password.
	hash, err := identity.HashPassword("s3cret")
	require.NoError(f, err)
	tn, err := fx.st.GetTenant(ctx, "b")
	require.NoError(f, err)
	tn.Policy.RequireCredential = true
	require.NoError(f, fx.st.PutTenant(ctx, tn))
	cl, err := fx.st.GetClient(ctx, "b", "vcenter")
	require.NoError(f, err)
	cl.Credential = &store.Credential{Username: "vc", Hash: hash}
	require.NoError(f, fx.st.PutClient(ctx, cl))
	require.NoError(f, fx.id.Invalidate(ctx))

	auth := func(user, pass string, typ kmip14.CredentialType) []byte {
		type value struct {
			TTLVTag  struct{} `ttlv:"CredentialValue"`
			Username string
			Password string
		}
		type cred struct {
			TTLVTag         struct{} `ttlv:"Credential"`
			CredentialType  kmip14.CredentialType
			CredentialValue value
		}
		b, err := ttlv.Marshal(struct {
			TTLVTag    struct{} `ttlv:"Authentication"`
			Credential cred
		}{Credential: cred{CredentialType: typ, CredentialValue: value{Username: user, Password: pass}}})
		require.NoError(f, err)
		return b
	}
	f.Add(uint8(1), "vcenter", auth("vc", "guess", kmip14.CredentialTypeUsernameAndPassword))
	f.Add(uint8(2), "VCENTER", auth("vc", "s3cret", kmip14.CredentialTypeUsernameAndPassword))
	f.Add(uint8(1), "VCenter", auth("vc", "", kmip14.CredentialTypeDevice))
	f.Add(uint8(0), "c1", []byte{})
	f.Add(uint8(0), "disabled-one", []byte{0x42, 0x00, 0x0c, 0x01, 0, 0, 0, 0})
	f.Add(uint8(2), "a1", auth("", "", 0))

	f.Fuzz(func(t *testing.T, signer uint8, cn string, authBytes []byte) {
		ca := []*certs.CA{fx.ca, fx.vmca, rogue}[int(signer)%3]
		certPEM, _, err := ca.IssueClient(cn, certs.KeyTypeECDSA)
		if err != nil {
			return
		}
		cert := parse(t, certPEM)
		c, err := fx.id.Identify(ctx, state(cert), "fuzz")
		if ca == rogue && err == nil {
			t.Fatalf("a certificate of a rogue CA named %q (CN %q) was identified as %s/%s", "VMCA", cn, c.Tenant, c.Name)
		}
		if err != nil || c.Authenticate == nil {
			return
		}
		err = c.Authenticate(ctx, authBytes)
		if err == nil && c.Tenant == "b" && !rightCredential(authBytes) {
			t.Fatalf("tenant b's client passed with Authentication %x", authBytes)
		}
	})
}

// rightCredential reports whether an Authentication holds the username
// and password of tenant b's client.
func rightCredential(b []byte) bool {
	var a struct {
		Credential struct {
			CredentialValue struct {
				Username string
				Password string
			}
		}
	}
	if ttlv.Unmarshal(b, &a) != nil {
		return false
	}
	v := a.Credential.CredentialValue
	return v.Username == "vc" && v.Password == "s3cret"
}
