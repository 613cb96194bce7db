package ops_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
	"github.com/kmip-adapter/kmip-adapter/store/postgres"
	"github.com/kmip-adapter/kmip-adapter/store/postgres/pgtest"
)

// faulty fails the first write that fail picks once armed, and disarms:
// a store that breaks for a moment in the middle of an operation.
type faulty struct {
	store.Store
	armed *atomic.Bool
	fail  func(op string, o *store.Object) bool
}

var errInjected = errors.New("injected store failure")

func (f faulty) CreateObject(ctx context.Context, o *store.Object) error {
	if f.armed.Load() && f.fail("create", o) && f.armed.CompareAndSwap(true, false) {
		return errInjected
	}
	return f.Store.CreateObject(ctx, o)
}

func (f faulty) UpdateObject(ctx context.Context, o *store.Object) error {
	if f.armed.Load() && f.fail("update", o) && f.armed.CompareAndSwap(true, false) {
		return errInjected
	}
	return f.Store.UpdateObject(ctx, o)
}

// txFaulty is faulty over a store with transactions, faulty inside them.
type txFaulty struct{ faulty }

func (f txFaulty) Update(ctx context.Context, fn func(tx store.Store) error) error {
	tr, _ := store.As[store.Transactor](f.Store) // txFaulty wraps only stores that have it
	return tr.Update(ctx, func(tx store.Store) error {
		return fn(faulty{Store: tx, armed: f.armed, fail: f.fail})
	})
}

// commitFails runs fn on the store as it is and then reports a failed
// commit: the executor must not report the batch's items as done.
type commitFails struct{ store.Store }

func (c commitFails) Update(ctx context.Context, fn func(tx store.Store) error) error {
	if err := fn(c.Store); err != nil {
		return err
	}
	return fmt.Errorf("commit: %w", store.ErrUnavailable)
}

// storeKinds are the ways a store meets the operations: its own
// transactions (PostgreSQL, bbolt when it has them) or compensation (a
// store without store.Transactor).
func storeKinds(t *testing.T) map[string]func(t *testing.T) store.Store {
	srv, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("KMIP_INTEGRATION_REQUIRED") != "1" {
		t.Skipf("%v: skipping (set KMIP_INTEGRATION_REQUIRED=1 to make this a failure)", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	var seq atomic.Int64
	boltStore := func(t *testing.T) store.Store {
		st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	return map[string]func(t *testing.T) store.Store{
		"postgres": func(t *testing.T) store.Store {
			dsn, err := srv.CreateSchema(context.Background(), fmt.Sprintf("ops%d", seq.Add(1)))
			require.NoError(t, err)
			st, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, MaxConns: 4})
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
		"bbolt": boltStore,
		"compensation": func(t *testing.T) store.Store {
			return struct{ store.Store }{boltStore(t)} // hides Update
		},
	}
}

func executorOn(t *testing.T, st store.Store) *server.Executor {
	log := zerolog.New(zerolog.NewTestWriter(t))
	return &server.Executor{Ops: ops.New(ops.Deps{Store: st, Backend: kmiptest.NewSoftBackend(), BackendType: "soft", Log: log}), Log: log}
}

// withFaults wraps st so that armed writes matching fail break.
func withFaults(st store.Store, fail func(op string, o *store.Object) bool) (store.Store, *atomic.Bool) {
	armed := &atomic.Bool{}
	f := faulty{Store: st, armed: armed, fail: fail}
	if _, ok := store.As[store.Transactor](st); ok {
		return txFaulty{f}, armed
	}
	return f, armed
}

func count(t *testing.T, st store.Store, tenant string) int {
	t.Helper()
	n, err := st.CountObjects(context.Background(), store.ListQuery{TenantID: tenant})
	require.NoError(t, err)
	return n
}

func material(t *testing.T, x *server.Executor, v message.Version, id string) []byte {
	t.Helper()
	it := kmiptest.Exec1(t, x, v, kmip20.OperationGet, kmiptest.Get(id, 0))
	ok(t, it)
	var got kmiptest.GetResponse
	kmiptest.Decode(t, it.ResponsePayload, &got)
	m, _ := got.KeyBlock().Material()
	return m.ValueByteString()
}

// TestAllOrNothing: operations that write several objects, and batches
// sent with the Undo option, leave all their changes or none, on every
// kind of store, when the store fails in their middle.
func TestAllOrNothing(t *testing.T) {
	v := message.V2_1
	kinds := storeKinds(t)
	for kind, open := range kinds {
		t.Run(kind+"/Re-key failing at its last write leaves no replacement", func(t *testing.T) {
			var oldID string
			st, armed := withFaults(open(t), func(op string, o *store.Object) bool { return op == "update" && o.ID == oldID })
			x := executorOn(t, st)
			oldID = kmiptest.NewAESKey(t, x, v)
			ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationActivate, kmiptest.UID{UniqueIdentifier: oldID}))
			before := count(t, st, kmiptest.Tenant)
			armed.Store(true)
			it := kmiptest.Exec1(t, x, v, kmip20.OperationReKey, kmiptest.UID{UniqueIdentifier: oldID})
			require.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			require.False(t, armed.Load(), "the fault did not fire")
			assert.Equal(t, before, count(t, st, kmiptest.Tenant), "an unlinked replacement key was left")
			ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationReKey, kmiptest.UID{UniqueIdentifier: oldID}))
			assert.Equal(t, before+1, count(t, st, kmiptest.Tenant))
		})
		t.Run(kind+"/Create Key Pair failing at the public key leaves no private key", func(t *testing.T) {
			st, armed := withFaults(open(t), func(op string, o *store.Object) bool {
				return op == "create" && o.ObjectType == uint32(kmip14.ObjectTypePublicKey)
			})
			x := executorOn(t, st)
			armed.Store(true)
			it := kmiptest.Exec1(t, x, v, kmip20.OperationCreateKeyPair, createKeyPairPayload(v, kmip14.CryptographicAlgorithmEC, 256, "pair"))
			require.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			require.False(t, armed.Load(), "the fault did not fire")
			assert.Zero(t, count(t, st, kmiptest.Tenant), "half a pair was left")
		})
		t.Run(kind+"/Import replacing an object and failing keeps the old one", func(t *testing.T) {
			const id = "imported-key"
			st, armed := withFaults(open(t), func(op string, o *store.Object) bool { return op == "create" && o.ID == id })
			x := executorOn(t, st)
			imp := func(key []byte) any {
				return struct {
					UniqueIdentifier string
					ObjectType       kmip14.ObjectType
					ReplaceExisting  bool
					Attributes       any
					SymmetricKey     struct{ KeyBlock kmiptest.KeyBlock }
				}{id, kmip14.ObjectTypeSymmetricKey, true, kmiptest.Attributes2(), struct{ KeyBlock kmiptest.KeyBlock }{kmiptest.KeyBlock{
					KeyFormatType: kmip14.KeyFormatTypeRaw, KeyValue: kmiptest.KeyValue{KeyMaterial: key},
					CryptographicAlgorithm: kmip14.CryptographicAlgorithmAES, CryptographicLength: 128,
				}}}
			}
			first, second := []byte("0123456789abcdef"), []byte("fedcba9876543210")
			ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationImport, imp(first)))
			armed.Store(true)
			it := kmiptest.Exec1(t, x, v, kmip20.OperationImport, imp(second))
			require.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			require.False(t, armed.Load(), "the fault did not fire")
			assert.Equal(t, first, material(t, x, v, id), "the replaced object is gone or changed")
			ok(t, kmiptest.Exec1(t, x, v, kmip20.OperationImport, imp(second)))
			assert.Equal(t, second, material(t, x, v, id))
		})
		t.Run(kind+"/Undo batch", func(t *testing.T) {
			st := open(t)
			x := executorOn(t, st)
			existing := kmiptest.NewAESKey(t, x, v, kmiptest.Attr1{AttributeName: "Name", AttributeValue: kmiptest.Name{NameValue: "existing", NameType: kmip14.NameTypeUninterpretedTextString}})
			key := material(t, x, v, existing)
			before := count(t, st, kmiptest.Tenant)
			undo := kmiptest.Header{ProtocolVersion: v, BatchErrorContinuationOption: message.BatchErrorUndo}
			r, _ := kmiptest.Execute(t, x, kmiptest.RequestWith(t, undo,
				kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 128)},
				kmiptest.Item{Operation: kmip20.OperationActivate, RequestPayload: struct{}{}},
				kmiptest.Item{Operation: kmip20.OperationReKey, RequestPayload: struct{}{}},
				kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: kmiptest.UID{UniqueIdentifier: existing}},
				kmiptest.Item{Operation: kmip20.OperationGet, RequestPayload: kmiptest.UID{UniqueIdentifier: "no-such-key"}},
			))
			require.Len(t, r.BatchItem, 5)
			for i, it := range r.BatchItem[:4] {
				assert.Equal(t, kmip14.ResultStatusOperationUndone, it.ResultStatus, "item %d: %s", i, it.ResultMessage)
			}
			assert.Equal(t, before, count(t, st, kmiptest.Tenant), "an undone create or re-key left an object")
			assert.Equal(t, key, material(t, x, v, existing), "the undone Destroy took the material")
		})
	}
	t.Run("a batch whose commit fails answers failure for every item", func(t *testing.T) {
		st := commitFails{kinds["bbolt"](t)}
		x := executorOn(t, st)
		undo := kmiptest.Header{ProtocolVersion: v, BatchErrorContinuationOption: message.BatchErrorUndo}
		r, _ := kmiptest.Execute(t, x, kmiptest.RequestWith(t, undo,
			kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 128)},
			kmiptest.Item{Operation: kmip20.OperationQuery, RequestPayload: struct{}{}},
		))
		require.Len(t, r.BatchItem, 2)
		for _, it := range r.BatchItem {
			assert.Equal(t, kmip14.ResultStatusOperationFailed, it.ResultStatus)
			assert.Contains(t, it.ResultMessage, "unavailable")
		}
	})
}

// TestContendedKeyLosesNoUpdate: clients of two nodes (two services on one
// store) add Names to one key at once. Every change collides with others
// (store.ErrConflict) and is read and applied again after a random,
// growing wait: none fails, none is lost.
func TestContendedKeyLosesNoUpdate(t *testing.T) {
	const (
		clients   = 16
		perClient = 8
	)
	v := message.V1_4
	kinds := storeKinds(t)
	for _, kind := range []string{"postgres", "bbolt"} {
		t.Run(kind, func(t *testing.T) {
			st := kinds[kind](t)
			nodes := []*server.Executor{executorOn(t, st), executorOn(t, st)}
			id := kmiptest.NewAESKey(t, nodes[0], v)
			var failed atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for c := range clients {
				x := nodes[c%len(nodes)]
				wg.Go(func() {
					for i := range perClient {
						it := kmiptest.Exec1(t, x, v, kmip20.OperationAddAttribute, addPayload(v, id, attrNamed(fmt.Sprintf("c%02d-%d", c, i))))
						if it.ResultStatus != kmip14.ResultStatusSuccess {
							failed.Add(1)
							t.Logf("client %d: %s: %s", c, it.ResultReason, it.ResultMessage)
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%s: %d contended changes in %s", kind, clients*perClient, time.Since(start).Round(time.Millisecond))
			assert.Zero(t, failed.Load(), "changes refused under contention")
			rec, err := st.GetObject(context.Background(), kmiptest.Tenant, id)
			require.NoError(t, err)
			assert.Len(t, rec.Names, clients*perClient, "a lost update")
			assert.Equal(t, uint64(1+clients*perClient), rec.Revision)
		})
	}
}
