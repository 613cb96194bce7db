package pkcs11

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// The kept-key handle cache. Without it, every use of a kept key verifies
// the tenant KEK blob's MAC with SKEY, unwraps the tenant KEK, unwraps
// the kept key and destroys both: about 1.4 ms on SoftHSM2 for a 1 KiB
// GCM, most of it the two unwraps. With it, a kept key unwrapped for a use
// stays a session object of the member's anchor session (sensitive, not
// extractable, as before: nothing leaves the HSM) for a bounded time, and
// later uses of the same wrapped key, by the same tenant key, for the same
// use, take its handle.
//
// An entry is found only by the hash of the tenant key blob (tenant and
// KEK), the kept key's wrapped form and the use, so a hit is a key that
// this tenant's KEK unwrapped before: tenant isolation and the integrity
// check are what they were. The cache is bounded in size (the least
// recently made entry goes first) and in time (keptCacheTTL, swept by the
// health check: a destroyed object's kept key is gone from the HSM within
// that time and one health interval, however recently it was used). It is emptied when its objects die: when the anchor session
// is lost, when the member is reconnected (failover, token restart) and
// when the backend closes. Entries in use are destroyed when their last
// user is done.

const (
	// keptCacheSize is how many kept keys a member holds unwrapped.
	keptCacheSize = 256
	// keptCacheTTL is how long a kept key stays unwrapped after it was.
	keptCacheTTL = 5 * time.Minute
)

// keptEntry is a kept key unwrapped on the anchor session.
type keptEntry struct {
	h       pkcs11.ObjectHandle
	expires time.Time
	users   int
	// dead: out of the cache, destroy when the last user is done; gone:
	// the object died with its session, there is nothing to destroy (its
	// handle number may already name another object).
	dead, gone bool
}

type keptCacheKey [sha256.Size]byte

func keptKeyOf(tk backend.TenantKey, wrapped []byte, use []uint) keptCacheKey {
	h := sha256.New()
	k := kekCacheKey(tk)
	h.Write(k[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(wrapped)))
	h.Write(n[:])
	h.Write(wrapped)
	for _, u := range use {
		binary.BigEndian.PutUint64(n[:], uint64(u))
		h.Write(n[:])
	}
	var out keptCacheKey
	h.Sum(out[:0])
	return out
}

// withKept runs fn on session s with the handle of the kept key req
// unwrapped for use: a cached one, or one unwrapped now on the anchor
// session and cached. A handle found invalid leaves the cache (the retry
// of withSession then unwraps again).
func (m *member) withKept(s pkcs11.SessionHandle, req backend.KeptKeyRequest, want byte, use []uint, fn func(pkcs11.ObjectHandle) error) error {
	if m.keptCap <= 0 {
		// No cache: unwrapped on s for this use only.
		h, err := m.unwrapKept(s, req, want, use...)
		if err != nil {
			return err
		}
		defer func() { _ = m.mod.DestroyObject(s, h) }()
		return fn(h)
	}
	key := keptKeyOf(req.Key, req.Wrapped, use)
	e, err := m.acquireKept(s, key, req, want, use)
	if err != nil {
		return err
	}
	err = fn(e.h)
	if isHandleInvalid(err) {
		m.keptMu.Lock()
		if m.kept[key] == e {
			delete(m.kept, key)
		}
		e.dead, e.gone = true, true
		m.keptMu.Unlock()
	}
	m.releaseKept(s, e)
	return err
}

// acquireKept returns the live cache entry of key, unwrapping it on a
// miss, with one more user.
func (m *member) acquireKept(s pkcs11.SessionHandle, key keptCacheKey, req backend.KeptKeyRequest, want byte, use []uint) (*keptEntry, error) {
	t := now()
	m.keptMu.Lock()
	if e, ok := m.kept[key]; ok && t.Before(e.expires) {
		e.users++
		m.keptMu.Unlock()
		m.keptHits.Add(1)
		return e, nil
	}
	m.keptMu.Unlock()
	m.keptMisses.Add(1)
	var (
		h     pkcs11.ObjectHandle
		entry *keptEntry
	)
	err := m.withAnchor(func(a pkcs11.SessionHandle) error {
		var err error
		if h, err = m.unwrapKept(a, req, want, use...); err != nil {
			return err
		}
		// Entered while the anchor is held: dropAnchor, which kills the
		// object, cannot run between its making and its entry.
		entry = &keptEntry{h: h, expires: t.Add(keptCacheTTL), users: 1}
		m.enterKept(s, key, entry, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entry, nil
}

// enterKept puts e in the cache under key and evicts what has expired
// and, over the bound, the entries made first.
func (m *member) enterKept(s pkcs11.SessionHandle, key keptCacheKey, e *keptEntry, t time.Time) {
	var doomed []pkcs11.ObjectHandle
	m.keptMu.Lock()
	evict := func(k keptCacheKey, x *keptEntry) {
		delete(m.kept, k)
		x.dead = true
		if x.users == 0 && !x.gone {
			doomed = append(doomed, x.h)
		}
	}
	if old, ok := m.kept[key]; ok {
		evict(key, old) // expired, or made twice by a race
	}
	m.kept[key] = e
	for k, x := range m.kept {
		if x != e && !t.Before(x.expires) {
			evict(k, x)
		}
	}
	for len(m.kept) > m.keptCap {
		var oldest keptCacheKey
		var first *keptEntry
		for k, x := range m.kept {
			if x != e && (first == nil || x.expires.Before(first.expires)) {
				oldest, first = k, x
			}
		}
		if first == nil {
			break
		}
		evict(oldest, first)
	}
	m.keptMu.Unlock()
	for _, h := range doomed {
		_ = m.mod.DestroyObject(s, h)
	}
}

// releaseKept ends a use of e; the last user of an evicted entry
// destroys its object.
func (m *member) releaseKept(s pkcs11.SessionHandle, e *keptEntry) {
	m.keptMu.Lock()
	e.users--
	destroy := e.dead && !e.gone && e.users == 0
	m.keptMu.Unlock()
	if destroy {
		_ = m.mod.DestroyObject(s, e.h)
	}
}

// sweepKept destroys, on the anchor session a, the kept keys whose time
// is up, so that an unused kept key does not outlive keptCacheTTL (plus
// one health interval) in the HSM; the health check calls it.
func (m *member) sweepKept(a pkcs11.SessionHandle) {
	t := now()
	var doomed []pkcs11.ObjectHandle
	m.keptMu.Lock()
	for k, e := range m.kept {
		if t.Before(e.expires) {
			continue
		}
		delete(m.kept, k)
		e.dead = true
		if e.users == 0 && !e.gone {
			doomed = append(doomed, e.h)
		}
	}
	m.keptMu.Unlock()
	for _, h := range doomed {
		_ = m.mod.DestroyObject(a, h)
	}
}

// forgetKept empties the cache when its objects died with the anchor
// session (or every session of the member): nothing is destroyed.
func (m *member) forgetKept() {
	m.keptMu.Lock()
	for k, e := range m.kept {
		e.dead, e.gone = true, true
		delete(m.kept, k)
	}
	m.keptMu.Unlock()
}

// destroyKept destroys every cached kept key on the anchor session a
// (closing the backend). No call is in flight.
func (m *member) destroyKept(a pkcs11.SessionHandle) {
	m.keptMu.Lock()
	defer m.keptMu.Unlock()
	for k, e := range m.kept {
		_ = m.mod.DestroyObject(a, e.h)
		e.dead, e.gone = true, true
		delete(m.kept, k)
	}
}

// keptCached is how many kept keys the member holds unwrapped (tests).
func (m *member) keptCached() int {
	m.keptMu.Lock()
	defer m.keptMu.Unlock()
	return len(m.kept)
}
