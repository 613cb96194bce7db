package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// The store-wide marker "every record carries a MAC". Without it, a
// record without a MAC is taken for one written before record MACs
// existed: served, and MACed on its next write, which lets whoever can
// write the store strip a MAC instead of forging one. Once the marker is
// in the store, a record without a MAC is refused exactly as one whose
// MAC fails (General Failure, an error log line, the item's audit event).
//
// The marker is an object record of the internal tenant "_store" (no
// client reaches a tenant whose name begins with "_"), MACed like every
// record, so that `kmipctl store verify` checks it and `kmipctl store
// migrate` carries it into the new store. It is written
//
//   - by the server at start when the store holds no object yet
//     (MarkNewStore: a store made by this version), and
//   - by `kmipctl store verify --fix`, after it has given every record
//     without a MAC its MAC (a store made by an older version).
//
// Removing the marker record reopens the gap; `kmipctl store verify`
// reports a store without it.
const (
	// RecordMACMarkerTenant and RecordMACMarkerID name the marker record.
	RecordMACMarkerTenant = "_store"
	RecordMACMarkerID     = "every-record-has-a-mac"
)

// markerLookInterval is how long a server that found no marker waits
// before it looks again (when it meets a record without a MAC): a
// backfill done while it runs (PostgreSQL) is taken up within it.
const markerLookInterval = 10 * time.Second

// errNoMAC is the error of a record without a MAC in a marked store.
var errNoMAC = fmt.Errorf("%w: the record has no MAC, and every record of this store must have one", errRecordIntegrity)

// macsRequired tells whether the store holds the marker, looking it up at
// most every markerLookInterval until it is found (then for good).
func (m *macStore) macsRequired(ctx context.Context) (bool, error) {
	m.mu.Lock()
	if m.marked || !m.markerLooked.IsZero() && time.Since(m.markerLooked) < markerLookInterval {
		defer m.mu.Unlock()
		return m.marked, nil
	}
	m.mu.Unlock()
	found, err := markerPresent(ctx, m.Store, m.macer, m.log)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marked = m.marked || found
	m.markerLooked = time.Now()
	return m.marked, nil
}

// markerPresent reads the marker. A marker whose MAC fails still counts:
// it only makes the server stricter, and the failure is logged.
func markerPresent(ctx context.Context, st store.Store, macer backend.RecordMACer, log zerolog.Logger) (bool, error) {
	o, err := st.GetObject(ctx, RecordMACMarkerTenant, RecordMACMarkerID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record MAC marker: %w", err)
	}
	if status, err := VerifyRecord(ctx, macer, o); err == nil && status != RecordOK {
		log.Error().Str("tenant", RecordMACMarkerTenant).Str("object", RecordMACMarkerID).
			Msg("the store's record MAC marker has no valid MAC; records without a MAC are refused all the same")
	}
	return true, nil
}

// RecordMACsRequired tells whether st holds the marker (for `kmipctl
// store verify`).
func RecordMACsRequired(ctx context.Context, st store.Store, macer backend.RecordMACer) (bool, error) {
	return markerPresent(ctx, st, macer, zerolog.Nop())
}

// ErrNoRecordMACs is MarkRecordMACs' error when the root of trust makes
// no record MACs (a Router of cloud KMSs only): marking the store would
// refuse every record.
var ErrNoRecordMACs = errors.New("the root of trust makes no record MACs: the store is not marked")

// MarkRecordMACs writes the marker into st (MACed by macer); a marker
// already there is left as it is.
func MarkRecordMACs(ctx context.Context, st store.Store, macer backend.RecordMACer) error {
	if mac, err := macer.MACRecord(ctx, RecordMACMarkerTenant, []byte(RecordMACMarkerID)); err != nil {
		return fmt.Errorf("record MAC marker: %w", err)
	} else if len(mac) == 0 {
		return ErrNoRecordMACs
	}
	var attrs attr.List
	attrs.Set(attr.Description, attr.Text("every object record of this store carries a MAC made in the root of trust; one without is refused"))
	attrs.Set(attr.InitialDate, attr.Date(time.Now()))
	b, err := attrs.Marshal()
	if err != nil {
		return err
	}
	ms := &macStore{Store: st, macer: macer, log: zerolog.Nop(), verifiedCache: newVerifiedCache()}
	err = ms.CreateObject(ctx, &store.Object{TenantID: RecordMACMarkerTenant, ID: RecordMACMarkerID, Attributes: b})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("record MAC marker: %w", err)
	}
	return nil
}

// MarkNewStore writes the marker into a store that holds no object yet
// (reserved tenants aside), when be MACs records: the server calls it at
// start, so a store made by this version never takes a record without a
// MAC. st is the store itself (a store.Scanner), not a wrapper.
func MarkNewStore(ctx context.Context, st store.Store, be backend.Backend) error {
	macer, ok := backend.As[backend.RecordMACer](be)
	if !ok {
		return nil
	}
	sc, ok := store.As[store.Scanner](st)
	if !ok {
		return nil
	}
	if found, err := markerPresent(ctx, st, macer, zerolog.Nop()); err != nil || found {
		return err
	}
	tenants, err := sc.TenantIDs(ctx)
	if err != nil {
		return fmt.Errorf("record MAC marker: %w", err)
	}
	errSome := errors.New("an object")
	for _, t := range tenants {
		if strings.HasPrefix(t, "_") {
			continue
		}
		err := sc.ScanObjects(ctx, t, "", func(*store.Object) error { return errSome })
		if errors.Is(err, errSome) {
			return nil // an existing store: `kmipctl store verify --fix` marks it
		}
		if err != nil {
			return fmt.Errorf("record MAC marker: %w", err)
		}
	}
	if err := MarkRecordMACs(ctx, st, macer); err != nil && !errors.Is(err, ErrNoRecordMACs) {
		return err
	}
	return nil
}

// AddRecordMAC gives the record tenant/id its MAC when it has none (the
// backfill of `kmipctl store verify --fix`): it reports whether it wrote.
// A concurrent writer (which MACs the record itself) wins.
func AddRecordMAC(ctx context.Context, st store.Store, macer backend.RecordMACer, tenant, id string) (bool, error) {
	o, err := st.GetObject(ctx, tenant, id)
	if err != nil {
		return false, err
	}
	if len(o.MAC) > 0 {
		return false, nil
	}
	ms := &macStore{Store: st, macer: macer, log: zerolog.Nop(), verifiedCache: newVerifiedCache()}
	err = ms.UpdateObject(ctx, o)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
