package ops

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// The shared, read-only namespace: the TKEK public keys of the root of
// trust (backend.TransportImporter) published as KMIP Public Key objects
// that every tenant can Locate and Get, so that a client finds the key to
// wrap an imported key under with its ordinary KMIP calls (see
// TransportKeyPrefix and docs/secure-import.md).
//
// A transport key's object is made from the root of trust, never stored:
//
//	Unique Identifier        transport:TKEK-01 (what Key Wrapping Data names)
//	Name                     TKEK-01, and TKEK (the label prefix: one
//	                         Locate by it finds every TKEK)
//	Object Type              Public Key, State Active
//	Cryptographic Algorithm  RSA, its modulus length
//	Cryptographic Usage Mask Wrap Key | Encrypt
//	Cryptographic Parameters OAEP with the hash the partition accepts
//	Key Format Type          X.509 (SubjectPublicKeyInfo; PKCS#1 on ask)
//
// Get, Get Attributes, Get Attribute List, Check, Export and the use of
// the public key (Encrypt, wrapping on Get) work as for any object; any
// change (Destroy, Revoke, Activate, attribute changes, Archive, Re-key,
// an Import over it) is Permission Denied. A Locate returns them only when
// it names objects (a Name or Unique Identifier filter), and then only
// those that match all of it: a client that lists everything it owns to
// clean up never meets objects it cannot destroy.

// transportRefresh is how long the transport keys read from the root of
// trust are used before they are read again; while it cannot be reached
// the last ones read are used (Locate and attribute reads keep working
// without the HSM).
const transportRefresh = time.Minute

// sharedObjects caches the transport keys' objects, built once per read
// of the root of trust (Locate by name runs often), for no tenant:
// sharedObject hands out a copy for the caller's.
type sharedObjects struct {
	mu    sync.Mutex
	read  time.Time // when keys were read; zero: never
	since time.Time // when they were first read: their Initial Date
	objs  []*managed
}

// isShared tells a Unique Identifier of the shared namespace.
func isShared(id string) bool { return strings.HasPrefix(id, TransportKeyPrefix) }

// errReadOnly is the answer to a change of a shared object.
func errReadOnly(id string) error {
	return message.Errorf(kmip20.ResultReasonPermissionDenied, "object %s is a transport key of the root of trust, shared by every tenant and read-only", id)
}

// sharedList returns the objects of the root of trust's TKEKs (not the
// IKEY, which is secret), from the cache when it is fresh. They are
// shared: callers copy before they change one (sharedObject).
func (s *Service) sharedList(ctx context.Context) ([]*managed, error) {
	imp, ok := backend.As[backend.TransportImporter](s.backend)
	if !ok {
		return nil, nil
	}
	c := &s.shared
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	if !c.read.IsZero() && now.Sub(c.read) < transportRefresh {
		return c.objs, nil
	}
	keys, err := imp.TransportKeys(ctx)
	if err != nil {
		if !c.read.IsZero() {
			s.log.Warn().Err(err).Msg("transport keys: the root of trust did not answer; serving the ones read before")
			return c.objs, nil
		}
		return nil, err
	}
	if c.since.IsZero() {
		c.since = now
	}
	var objs []*managed
	for _, k := range keys {
		if _, isRSA := k.Public.(*rsa.PublicKey); !isRSA {
			continue
		}
		m, err := buildShared(k, c.since)
		if err != nil {
			s.log.Warn().Err(err).Str("label", k.Label).Msg("transport key left out")
			continue
		}
		objs = append(objs, m)
	}
	c.objs, c.read = objs, now
	return objs, nil
}

// sharedObject is a shared object as call's tenant sees it: a copy.
func sharedObject(call *Call, m *managed) *managed {
	rec := *m.rec
	rec.TenantID = call.Tenant
	return &managed{rec: &rec, attrs: slices.Clone(m.attrs), shared: m.shared}
}

// buildShared builds the object of a transport key.
func buildShared(k backend.TransportKey, since time.Time) (*managed, error) {
	pub := k.Public.(*rsa.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("transport key %s: %w", k.Label, err)
	}
	id := TransportKeyPrefix + k.Label
	var attrs attr.List
	name := func(n string) {
		v, err := attr.Struct(attr.NameValue{NameValue: n, NameType: kmip14.NameTypeUninterpretedTextString})
		if err == nil {
			attrs.Add(attr.Name, v)
		}
	}
	shortID := sha256.Sum256([]byte(id))
	attrs.Set(attr.UniqueIdentifier, attr.Text(id))
	attrs.Set(attr.ShortUniqueIdentifier, attr.Bytes(shortID[:]))
	name(k.Label)
	if k.Group != "" && k.Group != k.Label {
		name(k.Group)
	}
	attrs.Set(attr.ObjectType, attr.Enum(uint32(kmip14.ObjectTypePublicKey)))
	attrs.Set(attr.CryptographicAlgorithm, attr.Enum(uint32(kmip14.CryptographicAlgorithmRSA)))
	attrs.Set(attr.CryptographicLength, attr.Int(int32(pub.N.BitLen())))
	attrs.Set(attr.CryptographicUsageMask, attr.Int(int32(kmip14.CryptographicUsageMaskWrapKey|kmip14.CryptographicUsageMaskEncrypt)))
	for h, c := range hashes {
		if c == k.OAEPHash && c != 0 {
			if v, err := attr.Struct(message.CryptographicParameters{PaddingMethod: kmip14.PaddingMethodOAEP, HashingAlgorithm: h}); err == nil {
				attrs.Set(attr.CryptographicParameters, v)
			}
		}
	}
	attrs.Set(attr.KeyFormatType, attr.Enum(uint32(kmip14.KeyFormatTypeX_509)))
	attrs.Set(attr.State, attr.Enum(uint32(object.StateActive)))
	attrs.Set(attr.InitialDate, attr.Date(since))
	attrs.Set(attr.ActivationDate, attr.Date(since))
	attrs.Set(attr.LastChangeDate, attr.Date(since))
	attrs.Set(attr.Sensitive, attr.Bool(false))
	attrs.Set(attr.Extractable, attr.Bool(true))
	attrs.Set(attr.ProtectionStorageMask, attr.Int(int32(kmip20.ProtectionStorageMaskHardware)))
	if digest, err := rawDigest(der, kmip14.KeyFormatTypeX_509); err == nil {
		attrs.Set(attr.Digest, digest)
	}
	m := &managed{
		rec:    &store.Object{ID: id, ObjectType: uint32(kmip14.ObjectTypePublicKey)},
		attrs:  attrs,
		shared: storedMaterial{format: kmip14.KeyFormatTypeX_509, payload: der}.seal(),
	}
	m.setState(object.StateActive)
	if err := m.encodeAttrs(); err != nil {
		return nil, err
	}
	return m, nil
}

// loadShared is load for an identifier of the shared namespace.
func (s *Service) loadShared(ctx context.Context, call *Call, id string) (*managed, error) {
	objs, err := s.sharedList(ctx)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	for _, m := range objs {
		if m.rec.ID == id {
			return sharedObject(call, m), nil
		}
	}
	return nil, fmt.Errorf("object %s: %w", id, store.ErrNotFound)
}

// namesObjects tells whether a Locate request selects objects by name or
// identifier: only such a Locate meets the shared objects.
func namesObjects(filters attr.List) bool {
	return slices.ContainsFunc(filters, func(a attr.Attribute) bool {
		return a.Name == attr.Name || a.Name == attr.UniqueIdentifier
	})
}

// locateShared returns the identifiers of the shared objects that match
// q (its Offset and Limit aside). A root of trust that cannot be read
// leaves them out: Locate keeps working without it.
func (s *Service) locateShared(ctx context.Context, q *store.ListQuery) []string {
	objs, err := s.sharedList(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("locate: transport keys unavailable, left out of the answer")
		return nil
	}
	var out []string
	for _, m := range objs {
		// The shared record itself (no tenant): the query only reads it.
		if matchesQuery(q, m.rec) {
			out = append(out, m.rec.ID)
		}
	}
	return out
}

// matchesQuery applies a store query's filters to one record, as a store
// does.
func matchesQuery(q *store.ListQuery, o *store.Object) bool {
	switch {
	case q.ID != "" && q.ID != o.ID,
		q.ObjectType != 0 && q.ObjectType != o.ObjectType,
		q.State != 0 && q.State != o.State,
		q.Name != "" && !slices.Contains(o.Names, q.Name),
		len(q.States) > 0 && !slices.Contains(q.States, o.State),
		slices.Contains(q.NotStates, o.State),
		q.Storage == store.StorageArchived && !o.Archived,
		q.Storage == store.StorageOnline && o.Archived:
		return false
	}
	for _, want := range q.Match {
		if !slices.ContainsFunc(o.Index, func(e store.IndexEntry) bool { return e.Key == want.Key && bytes.Equal(e.Value, want.Value) }) {
			return false
		}
	}
	return q.Filter == nil || q.Filter(o)
}

// pageShared splits a page between the shared objects (first) and the
// tenant's: it returns the shared ones on the page and adjusts q's
// Offset and Limit to the tenant's part; none tells that the tenant's
// part is empty.
func pageShared(q *store.ListQuery, shared []string) (page []string, none bool) {
	if len(shared) == 0 {
		return nil, false
	}
	off := min(q.Offset, len(shared))
	page = shared[off:]
	if q.Limit > 0 && len(page) > q.Limit {
		page = page[:q.Limit]
	}
	q.Offset = max(0, q.Offset-len(shared))
	if q.Limit > 0 {
		q.Limit -= len(page)
		if q.Limit == 0 {
			return page, true
		}
	}
	return page, false
}
