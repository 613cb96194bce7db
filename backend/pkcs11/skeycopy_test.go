package pkcs11

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyModule counts C_CopyObject calls and can refuse them, as a
// partition whose policy forbids session copies does.
type copyModule struct {
	p11
	mu      sync.Mutex
	refuse  bool
	tries   int
	handles []pkcs11.ObjectHandle
}

func (c *copyModule) CopyObject(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries++
	if c.refuse {
		return 0, pkcs11.Error(pkcs11.CKR_ACTION_PROHIBITED)
	}
	h, err := c.p11.CopyObject(sh, o, temp)
	if err == nil {
		c.handles = append(c.handles, h)
	}
	return h, err
}

// TestRecordMACSessionCopy: records are MACed and verified with a session
// copy of the SKEY, made once per anchor session, sensitive, not
// extractable and not on the token, giving exactly the token SKEY's MAC;
// a new copy is made when the anchor session is lost, and a token that
// refuses the copy MACs with the token object, as before.
func TestRecordMACSessionCopy(t *testing.T) {
	requireSoftHSM2(t)
	for _, tc := range []struct {
		name       string
		refuse     bool
		wantCopies int // live copies made over the test
	}{
		{name: "copy", wantCopies: 2},
		{name: "refused", refuse: true, wantCopies: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := &copyModule{refuse: tc.refuse}
			orig := loadModule
			loadModule = func(path string) (p11, error) {
				p, err := orig(path)
				if err != nil {
					return nil, err
				}
				mod.p11 = p
				return mod, nil
			}
			t.Cleanup(func() { loadModule = orig })

			b := openTest(t, testCfg)
			m := b.members[0]
			ctx := context.Background()
			record := []byte("a stored record")

			// What the token object itself makes of the record.
			var want []byte
			require.NoError(t, m.withSession(ctx, func(s pkcs11.SessionHandle) error {
				skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
				if err != nil {
					return err
				}
				want, err = m.mac(s, skey, recordMACInput("t1", record))
				return err
			}))

			for range 2 {
				got, err := b.MACRecord(ctx, "t1", record)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				require.NoError(t, b.VerifyRecord(ctx, "t1", record, got))
				require.Error(t, b.VerifyRecord(ctx, "t2", record, got), "another tenant's record")
			}
			assert.Equal(t, 1, mod.tries, "one copy per anchor session")

			// The anchor session goes, and its session objects with it.
			m.anchorMu.Lock()
			m.dropAnchor()
			m.anchorMu.Unlock()
			got, err := b.MACRecord(ctx, "t1", record)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.Equal(t, 2, mod.tries)
			assert.Len(t, mod.handles, tc.wantCopies)

			if len(mod.handles) == 0 {
				return
			}
			require.NoError(t, m.withSession(ctx, func(s pkcs11.SessionHandle) error {
				attrs, err := m.mod.GetAttributeValue(s, mod.handles[len(mod.handles)-1], []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
					pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
				})
				if err != nil {
					return err
				}
				for _, a := range attrs {
					want := map[uint]byte{pkcs11.CKA_TOKEN: 0, pkcs11.CKA_SENSITIVE: 1, pkcs11.CKA_EXTRACTABLE: 0}[a.Type]
					assert.Equal(t, []byte{want}, a.Value, "attribute %#x of the copy", a.Type)
				}
				// Its value never leaves the HSM.
				_, err = m.mod.GetAttributeValue(s, mod.handles[len(mod.handles)-1], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
				var perr pkcs11.Error
				require.True(t, errors.As(err, &perr), "CKA_VALUE of the copy: %v", err)
				assert.Equal(t, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE), perr)
				return nil
			}))
		})
	}
}
