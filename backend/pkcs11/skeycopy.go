package pkcs11

import (
	"github.com/miekg/pkcs11"
)

// The SKEY MACs every stored record on every write and verifies it on
// every read. Used as the token object it is, SoftHSM2 reads it back from
// its token store at each C_SignInit / C_VerifyInit (about 90 µs, most of
// a Create's HSM time); a session copy of it is held in memory and costs
// what a tenant KEK does. The copy is made with C_CopyObject on the anchor
// session, so it lives as long as the unwrapped KEKs do, and stays inside
// the HSM: a copy keeps CKA_SENSITIVE and cannot become extractable
// (PKCS#11 3.0 section 5.7.2). A token whose policy refuses the copy (a
// non-copyable SKEY, a partition that allows no session copies) keeps
// using the token object, as before.

// skeyCopyName is the key cache entry of the SKEY to MAC with: the session
// copy, or the token object where no copy could be made. forgetKeys, which
// runs when a handle was found invalid, drops it with the other handles.
const skeyCopyName = "SKEY session copy"

// macKey returns the SKEY to MAC records with.
func (m *member) macKey(s pkcs11.SessionHandle) (keyRef, error) {
	m.keysMu.Lock()
	r, ok := m.keys[skeyCopyName]
	m.keysMu.Unlock()
	if ok {
		return r, nil
	}
	skey, err := m.key(s, skeySpec(m.cfg.SKEYLabel))
	if err != nil {
		return keyRef{}, err
	}
	err = m.withAnchor(func(a pkcs11.SessionHandle) error {
		m.keysMu.Lock()
		cached, ok := m.keys[skeyCopyName]
		m.keysMu.Unlock()
		if ok { // copied while we waited for the anchor
			r = cached
			return nil
		}
		r = skey
		if h, cerr := m.mod.CopyObject(a, skey.h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false)}); cerr == nil {
			r.h = h
		}
		m.keysMu.Lock()
		m.keys[skeyCopyName] = r
		m.keysMu.Unlock()
		return nil
	})
	if err != nil {
		return keyRef{}, err
	}
	return r, nil
}

// forgetSKEYCopy drops the session copy's handle: the anchor session that
// owned it is closing. Callers hold anchorMu.
func (m *member) forgetSKEYCopy() {
	m.keysMu.Lock()
	delete(m.keys, skeyCopyName)
	m.keysMu.Unlock()
}
