package ops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/internal/ttlvfast"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// managed is a stored object with its attributes decoded.
type managed struct {
	rec   *store.Object
	attrs attr.List
	// shared is the material of an object of the shared namespace
	// (shared.go), as storedMaterial.seal writes it: such an object is
	// not stored, its material not sealed.
	shared []byte
}

// load reads an object of the caller's tenant. Another tenant's object is
// as missing as one that never existed.
//
// An archived object answers Object Archived: it must be recovered before
// any use (KMIP 1.4 section 4.22). Only Recover reaches it, through
// loadArchived.
func (s *Service) load(ctx context.Context, call *Call, id string) (*managed, error) {
	m, err := s.loadArchived(ctx, call, id)
	if err != nil {
		return nil, err
	}
	if m.rec.Archived {
		return nil, message.Errorf(kmip20.ResultReasonObjectArchived, "object %s is archived; Recover it first", id)
	}
	return m, nil
}

// loadArchived is load for on-line and archived objects alike.
func (s *Service) loadArchived(ctx context.Context, call *Call, id string) (*managed, error) {
	if isShared(id) {
		return s.loadShared(ctx, call, id)
	}
	// The record is this call's own: its list is decoded in place
	// (recordmac.go).
	rec, attrs, err := loadRecord(ctx, s.db(ctx), call.Tenant, id)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	m := &managed{rec: rec, attrs: attrs}
	s.applyDates(m)
	return m, nil
}

// encodeAttrs writes the attribute list back into the record, keeping the
// indexed columns in step with it: Names (the Name values) and Index (the
// values of the searchable attributes, see indexEntries in locate.go). The
// slices are new ones, so a snapshot of the record keeps its own.
func (m *managed) encodeAttrs() error {
	b, err := m.attrs.Marshal()
	if err != nil {
		return err
	}
	m.rec.Attributes = b
	var names []string
	for _, a := range m.attrs.All(attr.Name) {
		if n, err := a.NameValue(); err == nil {
			names = append(names, n.NameValue)
		}
	}
	m.rec.Names = names
	m.rec.Index = indexEntries(m.attrs)
	return nil
}

// additionalData binds sealed material to this object.
func (m *managed) additionalData() ([]byte, error) {
	alg, length, err := cryptoParams(m.attrs)
	if err != nil {
		return nil, err
	}
	return object.AdditionalData(m.rec.TenantID, m.rec.ID, m.rec.ObjectType, alg, length), nil
}

// cryptoParams reads Cryptographic Algorithm and Length, which are
// immutable once an object exists.
func cryptoParams(l attr.List) (alg uint32, length int32, err error) {
	if a, ok := l.Get(attr.CryptographicAlgorithm); ok {
		if alg, err = a.Enum(); err != nil {
			return 0, 0, err
		}
	}
	if a, ok := l.Get(attr.CryptographicLength); ok {
		if length, err = a.Int(); err != nil {
			return 0, 0, err
		}
	}
	return alg, length, nil
}

// update applies change to the object and stores it, re-reading and
// re-applying when another writer got there first.
func (s *Service) update(ctx context.Context, call *Call, id string, change func(m *managed) error) (*managed, error) {
	return s.modify(ctx, call, id, s.load, change)
}

// modify is update with the loader to use (load, or loadArchived for
// Recover).
func (s *Service) modify(ctx context.Context, call *Call, id string, load func(context.Context, *Call, string) (*managed, error), change func(m *managed) error) (*managed, error) {
	return s.modifyFrom(ctx, call, id, nil, load, change)
}

// modifyFrom is modify starting from m, the object as the caller already
// loaded it (nil: load it first), which saves a read and a decode; when
// another writer got there first it is re-read as modify does.
func (s *Service) modifyFrom(ctx context.Context, call *Call, id string, m *managed, load func(context.Context, *Call, string) (*managed, error), change func(m *managed) error) (*managed, error) {
	if isShared(id) {
		return nil, errReadOnly(id)
	}
	if !inTx(ctx) {
		defer s.writers.lock(call.Tenant, id)()
	}
	for i := 0; ; i++ {
		if m == nil {
			var err error
			if m, err = load(ctx, call, id); err != nil {
				return nil, err
			}
		}
		before := snapshot(m.rec)
		if err := change(m); err != nil {
			return nil, err
		}
		m.attrs.Set(attr.LastChangeDate, attr.Date(s.now()))
		if err := m.encodeAttrs(); err != nil {
			return nil, err
		}
		err := s.db(ctx).UpdateObject(ctx, m.rec)
		if errors.Is(err, store.ErrConflict) && i+1 < updateAttempts && s.backoff(ctx, i) {
			m = nil
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", id, err)
		}
		call.Journal.updated(before)
		return m, nil
	}
}

// setState records a lifecycle state in both the column and the attribute.
func (m *managed) setState(st object.State) {
	m.rec.State = uint32(st)
	m.attrs.Set(attr.State, attr.Enum(uint32(st)))
}

// newObject describes an object for insert.
type newObject struct {
	// ID is the Unique Identifier to give the object; empty for a new one.
	ID    string
	Type  kmip14.ObjectType
	Attrs attr.List // vetted client attributes
	// Material is what gets sealed; nil for objects without any.
	Material []byte
	// Digest is the Digest attribute, nil for none.
	Digest ttlv.TTLV
	// Format is the Key Format Type the key is kept in (0 for objects that
	// are not keys or secret data).
	Format kmip14.KeyFormatType
	// Generated says the server made the material from the root of
	// trust's RNG (Create, Re-key), not the client (Register).
	Generated bool
}

// leaseTime is the Lease Time the server grants on its keys (KMIP 1.4
// section 3.15): how long a client may use a key before it checks the key
// again. Nothing is enforced past it; it is advice to clients.
const leaseTime = time.Hour

// insert makes a new managed object of the caller's tenant: it adds the
// server's attributes (Unique Identifier, Object Type, State, dates, Digest,
// the protection attributes the OASIS profiles show), seals the material
// under the tenant KEK inside the root of trust, and stores the object. The
// new Unique Identifier becomes the batch's ID Placeholder.
func (s *Service) insert(ctx context.Context, call *Call, o newObject) (*managed, error) {
	id := o.ID
	if id == "" {
		id = newObjectID()
	}
	now := s.now()
	// Room for the attributes the server adds below (up to 19), so that
	// the list grows once, not at every doubling.
	attrs := slices.Grow(o.Attrs, 20)
	state, _ := object.Transition(0, object.EventCreate)
	if a, ok := attrs.Get(attr.ActivationDate); ok {
		at, err := a.Date()
		if err != nil {
			return nil, message.Errorf(kmip20.ResultReasonInvalidField, "%v", err)
		}
		if !at.After(now) { // an Activation Date already reached activates at once
			state, _ = object.Transition(state, object.EventActivate)
		}
	} else if call.Policy.ActivateOnCreate {
		state, _ = object.Transition(state, object.EventActivate)
		attrs.Set(attr.ActivationDate, attr.Date(now))
	}
	shortID := sha256.Sum256([]byte(id))
	attrs.Set(attr.UniqueIdentifier, attr.Text(id))
	attrs.Set(attr.ShortUniqueIdentifier, attr.Bytes(shortID[:]))
	attrs.Set(attr.ObjectType, attr.Enum(uint32(o.Type)))
	attrs.Set(attr.InitialDate, attr.Date(now))
	attrs.Set(attr.LastChangeDate, attr.Date(now))
	setDefault := func(name string, v ttlv.TTLV) {
		if _, given := attrs.Get(name); !given {
			attrs.Set(name, v)
		}
	}
	setDefault(attr.OriginalCreationDate, attr.Date(now))
	if o.Digest != nil {
		attrs.Set(attr.Digest, o.Digest)
	}
	if o.Format != 0 {
		attrs.Set(attr.KeyFormatType, attr.Enum(uint32(o.Format)))
		setDefault(attr.Fresh, attr.Bool(true)) // until its material first leaves the server
		setDefault(attr.Sensitive, attr.Bool(false))
		setDefault(attr.Extractable, attr.Bool(true))
		attrs.Set(attr.AlwaysSensitive, attr.Bool(flag(attrs, attr.Sensitive, false)))
		attrs.Set(attr.NeverExtractable, attr.Bool(!flag(attrs, attr.Extractable, true)))
		attrs.Set(attr.LeaseTime, slices.Clone(leaseTimeValue()))
		// The object is kept in the server's (software) store; its material
		// is sealed there by keys that never leave the root of trust.
		setDefault(attr.ProtectionStorageMask, attr.Int(int32(kmip20.ProtectionStorageMaskSoftware)))
	}
	if o.Generated {
		attrs.Set(attr.RandomNumberGenerator, slices.Clone(drbgValue()))
	}
	material := o.Material
	objectType := o.Type

	m := &managed{rec: &store.Object{TenantID: call.Tenant, ID: id, ObjectType: uint32(objectType)}, attrs: attrs}
	m.setState(state)
	if err := m.encodeAttrs(); err != nil {
		return nil, err
	}
	if material != nil {
		aad, err := m.additionalData()
		if err != nil {
			return nil, err
		}
		key, err := s.tenantKey(ctx, call.Tenant)
		if err != nil {
			return nil, err
		}
		if m.rec.Material, err = s.backend.Seal(ctx, backend.SealRequest{Key: key, Plaintext: material, AdditionalData: aad}); err != nil {
			return nil, fmt.Errorf("seal key material: %w", err)
		}
	}
	if err := s.db(ctx).CreateObject(ctx, m.rec); err != nil {
		return nil, fmt.Errorf("store object: %w", err)
	}
	call.Journal.created(call.Tenant, id)
	call.Placeholder = id
	return m, nil
}

// material opens an object's sealed key material inside the root of trust.
func (s *Service) material(ctx context.Context, call *Call, m *managed) ([]byte, error) {
	if m.shared != nil {
		return bytes.Clone(m.shared), nil
	}
	if len(m.rec.Material) == 0 {
		return nil, message.Errorf(kmip20.ResultReasonKeyValueNotPresent, "object %s has no key material", m.rec.ID)
	}
	aad, err := m.additionalData()
	if err != nil {
		return nil, err
	}
	key, err := s.tenantKey(ctx, call.Tenant)
	if err != nil {
		return nil, err
	}
	material, err := s.backend.Open(ctx, backend.OpenRequest{Key: key, Ciphertext: m.rec.Material, AdditionalData: aad})
	if err != nil {
		return nil, fmt.Errorf("open key material of %s: %w", m.rec.ID, err)
	}
	return material, nil
}

// rawDigest is the Digest attribute (KMIP 1.4 section 3.17) of key material
// in the given Key Format Type (0: an object that is not a key, with no
// Key Format Type in its Digest): SHA-256 of the material. It is written
// by hand (every Create and Register makes one): the bytes attr.Struct
// writes for {HashingAlgorithm, DigestValue, KeyFormatType}.
func rawDigest(material []byte, format kmip14.KeyFormatType) (ttlv.TTLV, error) {
	sum := sha256.Sum256(material)
	b, s := ttlvfast.Begin(make([]byte, 0, 72), kmip14.TagAttributeValue)
	b = ttlvfast.Enum(b, kmip14.TagHashingAlgorithm, uint32(kmip14.HashingAlgorithmSHA_256))
	b = ttlvfast.Bytes(b, kmip14.TagDigestValue, sum[:])
	if format != 0 {
		b = ttlvfast.Enum(b, kmip14.TagKeyFormatType, uint32(format))
	}
	return ttlvfast.End(b, s), nil
}

// The attribute values every new key gets, encoded once.
var (
	// drbgValue is Random Number Generator: the HSM's DRBG
	// (C_GenerateRandom).
	drbgValue = sync.OnceValue(func() ttlv.TTLV {
		v, err := attr.Struct(struct {
			RNGAlgorithm kmip14.RNGAlgorithm
		}{kmip14.RNGAlgorithmDRBG})
		if err != nil {
			panic(err) // a fixed type: cannot fail
		}
		return v
	})
	leaseTimeValue = sync.OnceValue(func() ttlv.TTLV { return interval(leaseTime) })
)

// interval is an Interval attribute value (whole seconds).
func interval(d time.Duration) ttlv.TTLV {
	b, err := attr.Struct(d)
	if err != nil {
		panic(err) // a fixed type: cannot fail
	}
	return b
}
