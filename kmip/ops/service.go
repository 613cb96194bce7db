package ops

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// Client is who sends a request, as the listener identified it from the
// client certificate.
type Client struct {
	// Tenant is the client's tenant: every object it reads or writes.
	Tenant string
	// Name identifies the client in logs (the certificate's subject).
	Name string
	// Policy is what the client's profile changes in the operations.
	Policy Policy
	// Authenticate, when set, checks the Authentication field (KMIP
	// Credential) of each request's header; an error (a *message.Error,
	// Authentication Not Successful) refuses the whole request.
	Authenticate func(ctx context.Context, authentication ttlv.TTLV) error
}

// Policy holds the behaviour a client profile changes.
type Policy struct {
	// ActivateOnCreate makes Create and Register answer with an Active
	// object: vCenter never calls Activate and treats a Pre-Active key as
	// unusable, while the specification wants a new key Pre-Active. It is
	// the vsphere profile, off for every other client.
	ActivateOnCreate bool
	// NonExtractableKeys makes the keys the client creates non-Extractable
	// unless it says otherwise (KMIP 1.x clients cannot: the attribute is
	// 2.x's): kept inside the root of trust, see keptkeys.go.
	NonExtractableKeys bool
	// WrappingKeysNonExtractable does that for the keys whose usage mask
	// allows Wrap Key or Unwrap Key only: a client's wrapping keys stay in
	// the root of trust while the keys they wrap may leave it.
	WrappingKeysNonExtractable bool
	// AllowedOperations, when not nil, are the only operations the client
	// may call; others are Permission Denied.
	AllowedOperations map[message.Operation]bool
}

// Call is one batch item as a handler sees it.
type Call struct {
	Version message.Version
	// Tenant is the caller's tenant: every object it reads or writes.
	Tenant string
	// Policy is the caller's profile.
	Policy Policy
	// Payload is the Request Payload structure (nil if absent).
	Payload ttlv.TTLV
	// Placeholder is the batch's ID Placeholder: the Unique Identifier the
	// previous item produced. Handlers that produce one set it.
	Placeholder string
	// Journal, when not nil, records the item's changes for a batch that
	// may have to be undone.
	Journal *Journal
}

// Handler runs one operation.
type Handler func(ctx context.Context, call *Call) (any, error)

// Deps are what the operations need.
type Deps struct {
	Store   store.Store
	Backend backend.Backend
	// BackendType is the configured backend type, recorded with tenants.
	BackendType string
	Log         zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoRecordMACs turns record MACs off (benchmarks measure their cost).
	NoRecordMACs bool
	// RecordMACsBySKEY makes every record MAC in the root of trust, without
	// the record MAC key (recordkey.go; benchmarks compare the two).
	RecordMACsBySKEY bool
}

// Service dispatches operations to their handlers.
type Service struct {
	store       store.Store
	backend     backend.Backend
	backendType string
	log         zerolog.Logger
	now         func() time.Time
	routes      map[message.Operation]Handler

	tenantMu   sync.Mutex
	tenantKeys map[string]backend.TenantKey

	// streams are the unfinished multi-part cryptographic operations.
	streams streamTable
	// writers queues this node's changes to one object (retry.go).
	writers objectLocks
	// shared caches the shared namespace's transport keys (shared.go).
	shared sharedObjects
	// recordKeys MACs records (recordkey.go); nil without record MACs.
	recordKeys *RecordKeys

	// The optional interfaces used on every request, looked up once (a
	// lookup through the metrics decorator allocates): nil when the
	// backend or store lacks them.
	rng        backend.RandomSource
	transactor store.Transactor
}

// New builds the operations service.
func New(d Deps) *Service {
	s := &Service{
		store: d.Store, backend: d.Backend, backendType: d.BackendType, log: d.Log, now: d.Now,
		tenantKeys: map[string]backend.TenantKey{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if macer, ok := backend.As[backend.RecordMACer](d.Backend); ok && !d.NoRecordMACs { // recordmac.go
		if !d.RecordMACsBySKEY {
			macer = s.openRecordKeys(d, macer) // recordkey.go
		}
		s.store = newMACStore(s.store, macer, s.log)
	}
	s.rng, _ = backend.As[backend.RandomSource](s.backend)
	s.transactor, _ = store.As[store.Transactor](s.store)
	s.routes = s.routeTable()
	return s
}

// Handle runs op. An operation the server does not implement, or one the
// call's protocol version lacks, gives Operation Not Supported.
func (s *Service) Handle(ctx context.Context, op message.Operation, call *Call) (any, error) {
	h, ok := s.routes[op]
	if !ok || !(message.OperationIn(op, call.Version) || op == kmip20.OperationDiscoverVersions) {
		return nil, message.Errorf(kmip20.ResultReasonOperationNotSupported, "operation %s is not supported in KMIP %s", op, call.Version)
	}
	if allowed := call.Policy.AllowedOperations; allowed != nil && !allowed[op] {
		return nil, message.Errorf(kmip20.ResultReasonPermissionDenied, "operation %s is not allowed for this client's tenant", op)
	}
	return h(ctx, call)
}

// Operations lists the operations a client of version v may call, in
// enumeration order.
func (s *Service) Operations(v message.Version) []message.Operation {
	var out []message.Operation
	for op := range s.routes {
		if message.OperationIn(op, v) {
			out = append(out, op)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// decode unmarshals a request payload, answering Invalid Message for a
// payload that does not fit the operation.
func decode(call *Call, v any) error {
	if len(call.Payload) == 0 {
		return message.Errorf(kmip20.ResultReasonInvalidMessage, "missing request payload")
	}
	if err := message.Unmarshal(call.Payload, v); err != nil {
		return message.Errorf(kmip20.ResultReasonInvalidMessage, "%v", err)
	}
	return nil
}

// random draws n bytes from the root of trust's RNG when it has one.
func (s *Service) random(ctx context.Context, n int) ([]byte, error) {
	if s.rng != nil {
		return s.rng.Random(ctx, n)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}
