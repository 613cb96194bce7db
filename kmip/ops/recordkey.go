package ops

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// The record MAC key (issue 4: "a MAC key wrapped under MKEK and MACed
// with SKEY, if that measures faster"). A record MAC made inside the HSM
// with the SKEY costs a round trip to it (35-56 µs on SoftHSM2, as much
// as the AES-GCM decrypt a Get needs), on every write and on every read
// the verified cache misses. Instead, the store holds one HMAC-SHA256 key
// for record MACs, made by the HSM's RNG and kept only sealed through the
// root of trust; the server opens it once at start and MACs records in
// Go (a few µs).
//
// Where it lives: the internal tenant RecordKeyTenant has a tenant record
// like any tenant, whose KEK the root of trust made and keeps wrapped by
// the MKEK and MACed by the SKEY; its one object record RecordKeyID holds
// the MAC key sealed (AES-GCM, inside the HSM) under that KEK, with
// additional data naming this use. The object record itself carries a
// MAC made by the SKEY (the scheme before the key), so a changed or
// substituted sealed key is refused before it is opened. The extra KEK
// level is needed because an HSM such as Luna never hands out the value
// of a secret key, even wrapped under a key the adapter could use: a key
// that must reach the adapter's memory comes out as the plaintext of a
// decryption. A root rotation (`kmipctl hsm rotate`) rewraps the tenant's
// KEK like any other; the sealed key does not change.
//
// One key for the store, not one per tenant: the tenant is bound into
// every MAC input (as with the SKEY, which is one for all tenants too), so
// a record moved to another tenant fails; per-tenant keys would all sit
// in the same process memory at once, so they would not narrow what a
// compromised server exposes, and would cost one HSM unwrap and one more
// stored record per tenant. The record MAC protects the store against
// whoever can write it, who holds no key either way.
//
// Format of a record MAC made with the key (41 bytes; an SKEY MAC is 16
// or 32 bytes, so the two never meet):
//
//	0x02 || key ID (8 bytes) || HMAC-SHA256(key, recordKeyDomain 0x00
//	     || uint32 big endian len(tenantID) || tenantID || record)
//
// The key ID is the first 8 bytes of the SHA-256 of the sealed key: it
// names the key without revealing anything of it, so that a later key
// can be told apart. Records MACed by the SKEY (older builds, or written
// before the key could be opened) keep verifying in the HSM; `kmipctl
// store verify --fix` rewrites them with the key, and so does their next
// write.
//
// Several nodes on one PostgreSQL store share the key: the first to start
// creates the tenant record and the key record with the store's
// create-if-absent rule (ErrExists), and a node that loses the race reads
// the winner's. The plaintext key is never logged, never stored, and is
// cleared when the Service closes.
const (
	// RecordKeyTenant and RecordKeyID name the sealed record MAC key.
	RecordKeyTenant = "_recordkey"
	RecordKeyID     = "record-mac-key"

	recordKeyDomain  = "kmip-adapter/record-mac/v2"
	recordKeySealAAD = "kmip-adapter/record-mac-key/v1"
	recordKeyVersion = 0x02
	recordKeyIDSize  = 8
	recordKeySize    = 32
	recordKeyMACSize = 1 + recordKeyIDSize + sha256.Size
	// recordKeyRetry is how long after a failed load (root of trust
	// unreachable at start) the next call tries again; meanwhile records
	// are MACed by the SKEY.
	recordKeyRetry = 5 * time.Second
)

// RecordKeys is the backend.RecordMACer the operations use: records are
// MACed in Go with the store's record MAC key once it is open, by the
// root of trust (legacy) until then; a MAC of either kind verifies.
type RecordKeys struct {
	st          store.Store
	be          backend.Backend
	legacy      backend.RecordMACer
	backendType string
	log         zerolog.Logger

	key atomic.Pointer[recordKey]
	// loadMu serialises loads; absent is set when a load found no key in
	// the store and was not to create one (or the root of trust makes no
	// record MACs); closed by Close; failedAt is the last failed load.
	loadMu   sync.Mutex
	absent   atomic.Bool
	closed   atomic.Bool
	failedAt time.Time
	// mayCreate is the last Load's create: whether a later load
	// (current) may make the key.
	mayCreate bool
}

// recordKey is an opened record MAC key.
type recordKey struct {
	id   [recordKeyIDSize]byte
	macs sync.Pool // of hash.Hash: HMAC-SHA256 states keyed with key
	// mu guards key against Close clearing it under a MAC in flight.
	mu      sync.RWMutex
	key     []byte
	cleared bool
}

// errRecordKeyClosed is sum's error once the key was cleared.
var errRecordKeyClosed = fmt.Errorf("%w: the record MAC key is closed", backend.ErrUnavailable)

// NewRecordKeys returns the record MACer over legacy (the root of trust's
// SKEY MACs); st is the store that holds the key record (not a macStore),
// be the root of trust that seals it, backendType the configured type
// recorded with the key's tenant. Load opens the key.
func NewRecordKeys(st store.Store, be backend.Backend, legacy backend.RecordMACer, backendType string, log zerolog.Logger) *RecordKeys {
	return &RecordKeys{st: st, be: be, legacy: legacy, backendType: backendType, log: log}
}

// Load opens the store's record MAC key; with create, it makes one when
// the store has none. A key record that fails its MAC, or a sealed key
// that does not open, is an error matching backend.ErrIntegrity.
func (k *RecordKeys) Load(ctx context.Context, create bool) error {
	k.loadMu.Lock()
	defer k.loadMu.Unlock()
	if k.key.Load() != nil {
		return nil
	}
	if k.closed.Load() {
		return errors.New("record MAC key: closed")
	}
	k.mayCreate = create
	err := k.load(ctx, create)
	if err != nil {
		k.failedAt = time.Now()
	}
	return err
}

func (k *RecordKeys) load(ctx context.Context, create bool) error {
	for attempt := 0; ; attempt++ {
		o, err := k.st.GetObject(ctx, RecordKeyTenant, RecordKeyID)
		if errors.Is(err, store.ErrNotFound) {
			if !create {
				k.absent.Store(true)
				return nil
			}
			if attempt > 0 {
				return fmt.Errorf("record MAC key: created, but not found in the store")
			}
			err = k.create(ctx)
			if errors.Is(err, store.ErrExists) {
				continue // another node made it first: read theirs
			}
			if errors.Is(err, ErrNoRecordMACs) {
				k.absent.Store(true) // records are stored without a MAC
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("record MAC key: %w", err)
		}
		return k.open(ctx, o)
	}
}

// open verifies the key record's SKEY MAC and opens the sealed key.
func (k *RecordKeys) open(ctx context.Context, o *store.Object) error {
	if len(o.MAC) == 0 {
		return fmt.Errorf("record MAC key: %w: its record has no MAC", backend.ErrIntegrity)
	}
	if err := k.legacy.VerifyRecord(ctx, o.TenantID, store.RecordMACInput(o, o.Revision), o.MAC); err != nil {
		return fmt.Errorf("record MAC key: its record: %w", err)
	}
	t, err := k.st.GetTenant(ctx, RecordKeyTenant)
	if err != nil {
		return fmt.Errorf("record MAC key: its tenant record: %w", err)
	}
	id := recordKeyIDOf(o.Material)
	plain, err := k.be.Open(ctx, backend.OpenRequest{
		Key:        backend.TenantKey{TenantID: t.ID, Blob: t.KeyBlob, Type: t.Backend},
		Ciphertext: o.Material, AdditionalData: []byte(recordKeySealAAD),
	})
	if err != nil {
		return fmt.Errorf("record MAC key: open through the root of trust: %w", err)
	}
	if len(plain) != recordKeySize {
		clear(plain)
		return fmt.Errorf("record MAC key: %w: the key is %d bytes", backend.ErrIntegrity, len(plain))
	}
	rk := &recordKey{id: id, key: plain}
	rk.macs.New = func() any { return hmac.New(sha256.New, rk.key) } // under rk.mu (sum)
	k.key.Store(rk)
	k.absent.Store(false)
	k.log.Info().Hex("key_id", id[:]).Msg("record MAC key open: records are MACed in the adapter")
	return nil
}

// create makes the key's tenant (if absent) and the sealed key record; a
// key record already there is store.ErrExists.
func (k *RecordKeys) create(ctx context.Context) error {
	// A Router of cloud KMSs only makes no record MACs: no key either.
	if probe, err := k.legacy.MACRecord(ctx, RecordKeyTenant, []byte(RecordKeyID)); err != nil {
		return fmt.Errorf("record MAC key: %w", err)
	} else if len(probe) == 0 {
		return ErrNoRecordMACs
	}
	t, err := k.st.GetTenant(ctx, RecordKeyTenant)
	if errors.Is(err, store.ErrNotFound) {
		// Made on the root of trust that MACs records (a Router's may
		// differ from its default).
		tk, kerr := k.be.NewTenantKey(backend.WithRecordMACRoot(ctx), RecordKeyTenant)
		if kerr != nil {
			return fmt.Errorf("record MAC key: new tenant key: %w", kerr)
		}
		t = &store.Tenant{ID: RecordKeyTenant, Backend: k.backendType, KeyBlob: tk.Blob}
		if tk.Type != "" {
			t.Backend = tk.Type
		}
		err = k.st.PutTenant(ctx, t)
		if errors.Is(err, store.ErrExists) {
			t, err = k.st.GetTenant(ctx, RecordKeyTenant)
		}
	}
	if err != nil {
		return fmt.Errorf("record MAC key: its tenant: %w", err)
	}
	// From the HSM's RNG when the root of trust has one (as every key
	// made on the pkcs11 backend).
	key := make([]byte, recordKeySize)
	if rs, ok := backend.As[backend.RandomSource](k.be); ok {
		r, err := rs.Random(ctx, recordKeySize)
		if err != nil {
			return fmt.Errorf("record MAC key: random: %w", err)
		}
		copy(key, r)
		clear(r)
	} else if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("record MAC key: random: %w", err)
	}
	defer clear(key)
	tk := backend.TenantKey{TenantID: t.ID, Blob: t.KeyBlob, Type: t.Backend}
	sealed, err := k.be.Seal(ctx, backend.SealRequest{Key: tk, Plaintext: key, AdditionalData: []byte(recordKeySealAAD)})
	if err != nil {
		return fmt.Errorf("record MAC key: seal: %w", err)
	}
	var attrs attr.List
	attrs.Set(attr.Description, attr.Text("the store's record MAC key (HMAC-SHA256), sealed through the root of trust; never served"))
	attrs.Set(attr.InitialDate, attr.Date(time.Now()))
	b, err := attrs.Marshal()
	if err != nil {
		return err
	}
	o := &store.Object{TenantID: RecordKeyTenant, ID: RecordKeyID, Attributes: b, Material: sealed}
	if o.MAC, err = k.legacy.MACRecord(ctx, o.TenantID, store.RecordMACInput(o, 1)); err != nil {
		return fmt.Errorf("record MAC key: MAC of its record: %w", err)
	}
	if len(o.MAC) == 0 {
		return ErrNoRecordMACs
	}
	if err := k.st.CreateObject(ctx, o); err != nil {
		if errors.Is(err, store.ErrExists) {
			return err
		}
		return fmt.Errorf("record MAC key: store: %w", err)
	}
	k.log.Info().Msg("record MAC key created in the store")
	return nil
}

// recordKeyIDOf names the key sealed as sealed.
func recordKeyIDOf(sealed []byte) (id [recordKeyIDSize]byte) {
	sum := sha256.Sum256(sealed)
	copy(id[:], sum[:])
	return id
}

// current returns the open key, trying to open it when it is not (at
// most every recordKeyRetry after a failure, never inside a transaction:
// the load reads the store outside it).
func (k *RecordKeys) current(ctx context.Context) *recordKey {
	if rk := k.key.Load(); rk != nil {
		return rk
	}
	if inTx(ctx) || k.absent.Load() || k.closed.Load() {
		return nil
	}
	k.loadMu.Lock()
	wait := !k.failedAt.IsZero() && time.Since(k.failedAt) < recordKeyRetry
	create := k.mayCreate
	k.loadMu.Unlock()
	if wait {
		return nil
	}
	if err := k.Load(ctx, create); err != nil {
		k.log.Warn().Err(err).Msg("record MAC key not open: records are MACed by the root of trust meanwhile")
	}
	return k.key.Load()
}

// IsKeyMAC reports whether mac was made with a record MAC key (not by
// the root of trust's SKEY).
func IsKeyMAC(mac []byte) bool {
	return len(mac) == recordKeyMACSize && mac[0] == recordKeyVersion
}

// sum appends the key's MAC of a record of tenantID to out.
func (rk *recordKey) sum(out []byte, tenantID string, record []byte) ([]byte, error) {
	rk.mu.RLock()
	defer rk.mu.RUnlock()
	if rk.cleared {
		return nil, errRecordKeyClosed
	}
	h := rk.macs.Get().(hash.Hash)
	h.Reset()
	var hdr [len(recordKeyDomain) + 1 + 4 + 64]byte
	b := append(hdr[:0], recordKeyDomain...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tenantID)))
	b = append(b, tenantID...) // on the stack for tenant names up to 64 bytes
	h.Write(b)
	h.Write(record)
	out = h.Sum(out)
	rk.macs.Put(h)
	return out, nil
}

// MACRecord MACs with the record MAC key when it is open, else by the
// root of trust (legacy).
func (k *RecordKeys) MACRecord(ctx context.Context, tenantID string, record []byte) ([]byte, error) {
	rk := k.current(ctx)
	if rk == nil {
		return k.legacy.MACRecord(ctx, tenantID, record)
	}
	if tenantID == "" {
		return nil, errors.New("MAC record: empty tenant ID")
	}
	out := make([]byte, 0, recordKeyMACSize)
	out = append(out, recordKeyVersion)
	out = append(out, rk.id[:]...)
	out, err := rk.sum(out, tenantID, record)
	if errors.Is(err, errRecordKeyClosed) {
		return k.legacy.MACRecord(ctx, tenantID, record)
	}
	return out, err
}

// VerifyRecord checks a MAC of either kind: one made with the key in Go
// (constant-time compare), one made by the SKEY in the root of trust.
func (k *RecordKeys) VerifyRecord(ctx context.Context, tenantID string, record, mac []byte) error {
	if !IsKeyMAC(mac) {
		return k.legacy.VerifyRecord(ctx, tenantID, record, mac)
	}
	rk := k.current(ctx)
	switch {
	case rk == nil && k.closed.Load():
		return fmt.Errorf("verify record: %w: the record MAC key is closed", backend.ErrUnavailable)
	case rk == nil && k.absent.Load():
		return fmt.Errorf("verify record: %w: its MAC names a record MAC key, and the store holds none", backend.ErrIntegrity)
	case rk == nil:
		return fmt.Errorf("verify record: %w: the record MAC key is not open (see the log)", backend.ErrUnavailable)
	case !hmac.Equal(mac[1:1+recordKeyIDSize], rk.id[:]):
		return fmt.Errorf("verify record: %w: its MAC names another record MAC key", backend.ErrIntegrity)
	}
	var buf [recordKeyMACSize]byte
	want, err := rk.sum(append(buf[:0], mac[:1+recordKeyIDSize]...), tenantID, record)
	if err != nil {
		return fmt.Errorf("verify record: %w", err)
	}
	if !hmac.Equal(want, mac) {
		return fmt.Errorf("verify record: %w: MAC does not verify", backend.ErrIntegrity)
	}
	return nil
}

// Close clears the key from memory; MACs are made by the root of trust
// afterwards. (The pooled HMAC states, which hold values derived from the
// key, go with the garbage collector.)
func (k *RecordKeys) Close() {
	k.loadMu.Lock()
	defer k.loadMu.Unlock()
	if rk := k.key.Swap(nil); rk != nil {
		rk.mu.Lock()
		clear(rk.key)
		rk.cleared = true
		rk.mu.Unlock()
	}
	k.closed.Store(true) // no reload after Close
}

var _ backend.RecordMACer = (*RecordKeys)(nil)

// recordKeyOpenTimeout bounds the opening of the record MAC key at start.
const recordKeyOpenTimeout = 30 * time.Second

// openRecordKeys opens (or makes) the store's record MAC key for the
// service. A failure (root of trust unreachable) is logged and the server
// starts all the same: records are MACed by the SKEY until a later call
// opens the key.
func (s *Service) openRecordKeys(d Deps, legacy backend.RecordMACer) *RecordKeys {
	s.recordKeys = NewRecordKeys(d.Store, d.Backend, legacy, d.BackendType, s.log)
	ctx, cancel := context.WithTimeout(context.Background(), recordKeyOpenTimeout)
	defer cancel()
	if err := s.recordKeys.Load(ctx, true); err != nil {
		s.log.Warn().Err(err).Msg("record MAC key not open: records are MACed by the root of trust until it is")
	}
	return s.recordKeys
}

// Close clears the record MAC key from memory. The service is not to be
// used afterwards.
func (s *Service) Close() error {
	if s.recordKeys != nil {
		s.recordKeys.Close()
	}
	return nil
}

// KeyOpen reports whether the record MAC key is open (new MACs are made
// with it).
func (k *RecordKeys) KeyOpen() bool { return k.key.Load() != nil }

// UpgradeRecordMAC rewrites the record tenant/id with a MAC of the record
// MAC key when its MAC verifies but was made by the root of trust's SKEY
// (`kmipctl store verify --fix`): it reports whether it wrote. The key's
// own record keeps its SKEY MAC; a concurrent writer (which MACs the
// record itself) wins.
func UpgradeRecordMAC(ctx context.Context, st store.Store, keys *RecordKeys, tenant, id string) (bool, error) {
	if tenant == RecordKeyTenant || !keys.KeyOpen() {
		return false, nil
	}
	ms := &macStore{Store: st, macer: keys, log: zerolog.Nop(), verifiedCache: newVerifiedCache()}
	o, err := ms.GetObject(ctx, tenant, id) // verifies the MAC it has
	if err != nil {
		return false, err
	}
	if len(o.MAC) == 0 || IsKeyMAC(o.MAC) {
		return false, nil
	}
	err = ms.UpdateObject(ctx, o)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
