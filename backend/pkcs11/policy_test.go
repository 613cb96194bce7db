package pkcs11

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// policyTokensBad numbers the tokens TestCheckReportsPolicies makes.
var policyTokensBad atomic.Int32

// rows indexes check results by name.
func rows(results []backend.CheckResult) map[string]backend.CheckResult {
	out := map[string]backend.CheckResult{}
	for _, r := range results {
		out[r.Name] = r
	}
	return out
}

// TestCheckReportsPolicies: on a SoftHSM2 token whose MKEK was made
// extractable and not sensitive, and whose SKEY is not private (usable
// without login), the policy lines name each finding with its fix, in
// SoftHSM2's terms or, with the luna profile, Luna's (partition policy
// names, lunacm); the token, mechanism and private key wrapping lines
// pass.
func TestCheckReportsPolicies(t *testing.T) {
	requireSoftHSM2(t)
	cfg := testCfg
	cfg.TokenLabel = fmt.Sprintf("kmip-test-policies-%d", policyTokensBad.Add(1))
	cfg.TKEKCount = 1
	ctx := context.Background()
	require.NoError(t, Provision(ctx, ProvisionOptions{PKCS11: cfg, SOPIN: testSOPIN, UserPIN: testUserPIN}))
	destroyObject(t, cfg, pkcs11.CKO_SECRET_KEY, cfg.MKEKLabel)
	destroyObject(t, cfg, pkcs11.CKO_SECRET_KEY, cfg.SKEYLabel)
	mod, s := adminSession(t, cfg)
	gen := func(label string, private, sensitive, extractable bool, on, off []uint) {
		tmpl := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, private),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, sensitive),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		}
		for _, u := range on {
			tmpl = append(tmpl, pkcs11.NewAttribute(u, true))
		}
		for _, u := range off {
			tmpl = append(tmpl, pkcs11.NewAttribute(u, false))
		}
		_, err := mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
		require.NoError(t, err)
	}
	gen(cfg.MKEKLabel, true, false, true, []uint{pkcs11.CKA_WRAP}, []uint{pkcs11.CKA_UNWRAP})
	gen(cfg.SKEYLabel, false, true, false, []uint{pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY}, nil)

	for _, tt := range []struct {
		profile string
		fix     []string // in the MKEK's policy line
	}{
		{"softhsm2", []string{"fix on SoftHSM2:", "kmipctl dev init makes the key set", "kmipctl hsm rotate"}},
		{"luna", []string{"fix on Luna:", `"Allow changing key attributes"`, `"Allow secret key cloning"`, "kmipctl hsm rotate"}},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			c := cfg
			c.Mechanisms.Profile = tt.profile
			// SoftHSM2's ids under either profile: only the wording differs.
			c.Mechanisms.KeyWrap, c.Mechanisms.KeyWrapPad, c.Mechanisms.RSAOAEPHash = pkcs11.CKM_AES_KEY_WRAP, pkcs11.CKM_AES_KEY_WRAP_PAD, "sha1"
			b := openTest(t, c)
			r := rows(b.Check(ctx))

			mkek := r["policy MKEK"]
			assert.False(t, mkek.OK)
			for _, want := range []string{
				"CKA_UNWRAP is false, and the MKEK unwraps tenant KEKs",
				"CKA_SENSITIVE is false: its value can be read out",
				"CKA_EXTRACTABLE is true: it can be wrapped out of the partition",
			} {
				assert.Contains(t, mkek.Detail, want)
			}
			assert.NotContains(t, mkek.Detail, "CKA_WRAP is false")
			assert.NotContains(t, mkek.Detail, "CKA_PRIVATE")
			for _, want := range tt.fix {
				assert.Contains(t, mkek.Detail, want)
			}
			skey := r["policy SKEY"]
			assert.False(t, skey.OK)
			assert.Contains(t, skey.Detail, "CKA_PRIVATE is false: the key is usable without the Crypto Officer's login")
			assert.True(t, r["SKEY"].OK, "the key itself works: only the policy line finds it")
			assert.True(t, r["policy IKEY"].OK, r["policy IKEY"].Detail)
			assert.True(t, r["policy TKEKs"].OK, r["policy TKEKs"].Detail)
			for _, name := range []string{"token", "mechanism KWP", "mechanism KW", "mechanism GCM", "mechanism RSA-OAEP", "mechanism MAC",
				"mechanism AES keygen", "mechanism RSA keygen", "mechanism EC keygen", "mechanism DES3-CBC-PAD", "private key wrapping"} {
				assert.True(t, r[name].OK, "%s: %s", name, r[name].Detail)
			}
			assert.Contains(t, r["token"].Detail, "SoftHSM")
		})
	}

	// A mechanism the token does not offer: named with the fix.
	c := cfg
	c.Mechanisms.Profile = "luna" // the vendor key wrap ids, which SoftHSM2 lacks
	c.Mechanisms.RSAOAEPHash = "sha1"
	b := openTest(t, c)
	r := rows(b.Check(ctx))
	kwp := r["mechanism KWP"]
	assert.False(t, kwp.OK)
	assert.Contains(t, kwp.Detail, "0x80000171 is not offered")
	assert.Contains(t, kwp.Detail, "fix on Luna: check backend.pkcs11.mechanisms")
	assert.False(t, r["private key wrapping"].OK, "the probe wraps with the configured KWP")
	assert.Contains(t, r["private key wrapping"].Detail, `"Allow private key wrapping"`)
}
