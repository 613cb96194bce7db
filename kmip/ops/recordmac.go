package ops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Record MACs (DESIGN.md section 4, issue 4): when the root of trust
// offers backend.RecordMACer, every object record the operations write
// carries a MAC made inside it over store.RecordMACInput, and every record
// they read is verified before it is used. A record whose MAC does not
// verify is never served: the operation fails with General Failure
// (errRecordIntegrity), the server logs it at error level with the
// object's tenant and identifier, and the executor's audit event of the
// item records the failure.
//
// A record without a MAC (written before record MACs existed, or by a
// server without them) is accepted and gets its MAC on its next write,
// unless the store holds the marker "every record carries a MAC"
// (recordmark.go): then it is refused as a failing one is, so that a
// stripped MAC is noticed on load.
//
// Verified records are remembered by the SHA-256 of their MAC input and
// MAC (verifiedCache): a record read again unchanged costs a hash instead
// of a call into the HSM; any change to the record misses the cache. The
// cache also remembers whether a record's attribute list has been decoded
// (checked by attr.UnmarshalShared): the MAC input holds the list's
// bytes, so a record found with that mark has a list known to be well
// formed, which loadArchived then decodes without checking it again
// (attr.UnmarshalSharedChecked). A record without a MAC is checked on
// every read.

// errRecordIntegrity is the error of a record whose MAC does not verify.
var errRecordIntegrity = errors.New("stored record failed its integrity check")

// verifiedCacheSize bounds the remembered verified records; the set is
// emptied when full (simple, and a miss only costs one verification).
const verifiedCacheSize = 1 << 16

// macStore is the store as the operations see it with record MACs.
type macStore struct {
	store.Store
	macer backend.RecordMACer
	log   zerolog.Logger
	*verifiedCache
}

// verifiedCache is shared by the service's store and the stores its
// transactions hand out. An entry made in a transaction that is rolled
// back is harmless: it names content and a MAC the root of trust made.
type verifiedCache struct {
	mu sync.Mutex
	// verified holds the records whose MAC verified; the value is
	// whether the record's attribute list has been decoded too.
	verified map[[sha256.Size]byte]bool
	// marked: the store holds the record MAC marker (recordmark.go);
	// markerLooked is when it was last looked for.
	marked       bool
	markerLooked time.Time
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{verified: map[[sha256.Size]byte]bool{}}
}

// newMACStore wraps st; a store with transactions (store.Transactor)
// stays one, and the store each transaction hands out is MACed too.
func newMACStore(st store.Store, macer backend.RecordMACer, log zerolog.Logger) store.Store {
	m := &macStore{Store: st, macer: macer, log: log, verifiedCache: newVerifiedCache()}
	if tr, ok := store.As[store.Transactor](st); ok {
		return macTxStore{m, tr}
	}
	return m
}

// macTxStore is macStore over a store.Transactor, tr.
type macTxStore struct {
	*macStore
	tr store.Transactor
}

// Update implements store.Transactor.
func (m macTxStore) Update(ctx context.Context, fn func(tx store.Store) error) error {
	return m.tr.Update(ctx, func(tx store.Store) error {
		return fn(&macStore{Store: tx, macer: m.macer, log: m.log, verifiedCache: m.verifiedCache})
	})
}

// seal sets o.MAC for the record as it will be stored with revision.
func (m *macStore) seal(ctx context.Context, o *store.Object, revision uint64) error {
	input := store.RecordMACInput(o, revision)
	mac, err := m.macer.MACRecord(ctx, o.TenantID, input)
	if err != nil {
		return fmt.Errorf("MAC of record %s: %w", o.ID, err)
	}
	o.MAC = mac
	m.remember(o.TenantID, input, mac)
	return nil
}

// cacheKey is the SHA-256 of the record's tenant (length-prefixed), MAC
// and MAC input.
func cacheKey(tenantID string, input, mac []byte) [sha256.Size]byte {
	b := append(appendKeyPrefix(make([]byte, 0, 32+len(tenantID)+len(mac)+len(input)), tenantID, mac), input...)
	return sha256.Sum256(b)
}

func appendKeyPrefix(b []byte, tenantID string, mac []byte) []byte {
	b = strconv.AppendInt(b, int64(len(tenantID)), 10)
	b = append(b, ':')
	b = append(b, tenantID...)
	return append(b, mac...)
}

// checkBufs are the buffers that check builds a record's cache key input
// in: every Get reads a record, and the input is about as long as it.
var checkBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledCheckBuf keeps the buffers of unusually large records (a
// certificate chain, an opaque object) out of the pool.
const maxPooledCheckBuf = 64 << 10

func (m *verifiedCache) remember(tenantID string, input, mac []byte) {
	m.put(cacheKey(tenantID, input, mac), false)
}

// put records a verified record by its key, with whether its attribute
// list decoded.
func (m *verifiedCache) put(k [sha256.Size]byte, listDecoded bool) {
	m.mu.Lock()
	if len(m.verified) >= verifiedCacheSize {
		clear(m.verified)
	}
	m.verified[k] = listDecoded
	m.mu.Unlock()
}

// recordCheck is what check learnt of a record: for a record with a MAC
// (verified), its key in the verified cache and whether its attribute
// list is known to decode.
type recordCheck struct {
	verified    bool
	key         [sha256.Size]byte
	listDecoded bool
}

// check verifies a stored record's MAC; a record without one passes
// unless the store is marked (see above).
func (m *macStore) check(ctx context.Context, o *store.Object) (recordCheck, error) {
	if len(o.MAC) == 0 {
		required, err := m.macsRequired(ctx)
		if err != nil {
			return recordCheck{}, fmt.Errorf("object %s: %w", o.ID, err)
		}
		if required {
			m.log.Error().Str("tenant", o.TenantID).Str("object", o.ID).Uint64("revision", o.Revision).
				Msg("stored record has no MAC in a store whose every record must have one: not served (kmipctl store verify lists such records)")
			return recordCheck{}, fmt.Errorf("object %s: %w", o.ID, errNoMAC)
		}
		return recordCheck{}, nil
	}
	// The key is cacheKey's, built in a pooled buffer: a cache hit (a
	// record read again unchanged) allocates nothing.
	bp := checkBufs.Get().(*[]byte)
	b := appendKeyPrefix((*bp)[:0], o.TenantID, o.MAC)
	start := len(b)
	b = store.AppendRecordMACInput(b, o, o.Revision)
	k := sha256.Sum256(b)
	m.mu.Lock()
	listDecoded, ok := m.verified[k]
	m.mu.Unlock()
	var input []byte
	if !ok {
		input = bytes.Clone(b[start:])
	}
	if cap(b) <= maxPooledCheckBuf {
		*bp = b
		checkBufs.Put(bp)
	}
	if ok {
		return recordCheck{verified: true, key: k, listDecoded: listDecoded}, nil
	}
	if err := m.macer.VerifyRecord(ctx, o.TenantID, input, o.MAC); err != nil {
		if errors.Is(err, backend.ErrIntegrity) {
			m.log.Error().Str("tenant", o.TenantID).Str("object", o.ID).Uint64("revision", o.Revision).
				Msg("stored record failed its MAC check: not served (kmipctl store verify lists such records)")
			return recordCheck{}, fmt.Errorf("object %s: %w", o.ID, errRecordIntegrity)
		}
		return recordCheck{}, fmt.Errorf("verify record %s: %w", o.ID, err)
	}
	m.put(k, false)
	return recordCheck{verified: true, key: k}, nil
}

func (m *macStore) CreateObject(ctx context.Context, o *store.Object) error {
	if err := m.seal(ctx, o, 1); err != nil {
		return err
	}
	return m.Store.CreateObject(ctx, o)
}

func (m *macStore) UpdateObject(ctx context.Context, o *store.Object) error {
	if err := m.seal(ctx, o, o.Revision+1); err != nil {
		return err
	}
	return m.Store.UpdateObject(ctx, o)
}

func (m *macStore) GetObject(ctx context.Context, tenantID, id string) (*store.Object, error) {
	o, _, err := m.getChecked(ctx, tenantID, id)
	return o, err
}

// getChecked is GetObject with what check learnt of the record.
func (m *macStore) getChecked(ctx context.Context, tenantID, id string) (*store.Object, recordCheck, error) {
	o, err := m.Store.GetObject(ctx, tenantID, id)
	if err != nil {
		return nil, recordCheck{}, err
	}
	c, err := m.check(ctx, o)
	if err != nil {
		return nil, recordCheck{}, err
	}
	return o, c, nil
}

// checkedGetter is the store of a service with record MACs (macStore,
// macTxStore), as loadRecord finds it.
type checkedGetter interface {
	getChecked(ctx context.Context, tenantID, id string) (*store.Object, recordCheck, error)
	put(k [sha256.Size]byte, listDecoded bool)
}

// loadRecord reads a record through st and decodes its attribute list,
// in place (the record is the caller's own). The list of a record that
// the verified cache knows decoded is not checked again (see above); any
// other is, and a record with a MAC is marked once its list decodes.
func loadRecord(ctx context.Context, st store.Store, tenantID, id string) (*store.Object, attr.List, error) {
	g, macs := st.(checkedGetter)
	if !macs {
		rec, err := st.GetObject(ctx, tenantID, id)
		if err != nil {
			return nil, nil, err
		}
		attrs, err := attr.UnmarshalShared(rec.Attributes)
		if err != nil {
			return nil, nil, err
		}
		return rec, attrs, nil
	}
	rec, c, err := g.getChecked(ctx, tenantID, id)
	if err != nil {
		return nil, nil, err
	}
	if c.listDecoded {
		attrs, err := attr.UnmarshalSharedChecked(rec.Attributes)
		if err != nil {
			return nil, nil, err
		}
		return rec, attrs, nil
	}
	attrs, err := attr.UnmarshalShared(rec.Attributes)
	if err != nil {
		return nil, nil, err
	}
	if c.verified {
		g.put(c.key, true)
	}
	return rec, attrs, nil
}

// RecordStatus is what VerifyRecord found of one record.
type RecordStatus int

// RecordStatus values.
const (
	RecordOK       RecordStatus = iota + 1 // its MAC verifies
	RecordNoMAC                            // written before record MACs
	RecordTampered                         // its MAC does not verify
)

// VerifyRecord checks one stored record with macer, as the operations do
// when they load it (for `kmipctl store verify`). An error is returned
// only when the check itself could not run.
func VerifyRecord(ctx context.Context, macer backend.RecordMACer, o *store.Object) (RecordStatus, error) {
	if len(o.MAC) == 0 {
		return RecordNoMAC, nil
	}
	err := macer.VerifyRecord(ctx, o.TenantID, store.RecordMACInput(o, o.Revision), o.MAC)
	switch {
	case err == nil:
		return RecordOK, nil
	case errors.Is(err, backend.ErrIntegrity):
		return RecordTampered, nil
	}
	return 0, err
}
