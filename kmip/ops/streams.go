package ops

import (
	"bytes"
	"crypto/rand"
	"sync"
	"time"

	"github.com/gemalto/kmip-go/kmip20"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// Multi-part cryptographic operations (KMIP 1.4 section 4.29 on: Init
// Indicator, Correlation Value, Final Indicator). The server keeps, per
// unfinished operation, the input received so far and how much output it
// answered; never key material: each part opens the key again, so that a
// key revoked or destroyed in between stops the stream.

const (
	// streamTTL is how long an unfinished operation waits for its next
	// part.
	streamTTL = 10 * time.Minute
	// maxStreamBytes bounds the input one operation accumulates.
	maxStreamBytes = 16 << 20
	// maxStreams bounds the unfinished operations of the whole server.
	maxStreams = 4096
)

// stream is an unfinished multi-part operation.
type stream struct {
	tenant string
	op     message.Operation
	id     string
	params message.CryptographicParameters
	iv     []byte
	aad    []byte
	data   []byte
	// emitted is how many output bytes earlier parts answered.
	emitted int
	expires time.Time
}

// streamTable holds the unfinished operations by Correlation Value. Its
// zero value is ready.
type streamTable struct {
	mu sync.Mutex
	m  map[string]*stream
}

// take removes and returns the stream a Correlation Value names for the
// tenant and operation. An unknown, expired or foreign value answers
// Invalid Field... in the client's terms: Item Not Found is what KMIP 1.x
// has for a reference to nothing.
func (t *streamTable) take(now time.Time, tenant string, op message.Operation, corr []byte) (*stream, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.m[string(corr)]
	if !ok || st.tenant != tenant || st.op != op || now.After(st.expires) {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "the Correlation Value names no unfinished %s operation", op)
	}
	delete(t.m, string(corr))
	return st, nil
}

// put keeps st for its next part and returns its Correlation Value.
func (t *streamTable) put(now time.Time, st *stream) ([]byte, error) {
	if len(st.data) > maxStreamBytes {
		return nil, message.Errorf(kmip20.ResultReasonInvalidField, "a multi-part operation may process at most %d bytes", maxStreamBytes)
	}
	corr := make([]byte, 16)
	if _, err := rand.Read(corr); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*stream{}
	}
	for k, old := range t.m {
		if now.After(old.expires) {
			delete(t.m, k)
		}
	}
	if len(t.m) >= maxStreams {
		return nil, message.Errorf(kmip20.ResultReasonGeneralFailure, "too many unfinished multi-part operations; finish some first")
	}
	st.expires = now.Add(streamTTL)
	t.m[string(corr)] = st
	return corr, nil
}

// part is where a request stands in a multi-part operation.
type part struct {
	// prior is the stream a Correlation Value continued, nil for a first
	// (or only) part.
	prior *stream
	// final is set for a single-part operation and for the last part.
	final bool
	// data is all input so far, this part's included.
	data []byte
}

// beginPart reads the multi-part fields of a request for operation op on
// object id ("" for Hash).
func (s *Service) beginPart(call *Call, op message.Operation, id string, corr []byte, init, final bool, data []byte) (part, error) {
	if len(corr) == 0 {
		return part{final: !init || final, data: data}, nil
	}
	st, err := s.streams.take(s.now(), call.Tenant, op, corr)
	if err != nil {
		return part{}, err
	}
	if st.id != id {
		return part{}, message.Errorf(kmip20.ResultReasonInvalidField, "the Correlation Value belongs to another object")
	}
	all := append(st.data, data...)
	return part{prior: st, final: final, data: all}, nil
}

// keep stores an unfinished operation after a part that was not the last
// and returns the Correlation Value to answer.
func (s *Service) keep(call *Call, op message.Operation, id string, p part, params message.CryptographicParameters, iv, aad []byte, emitted int) ([]byte, error) {
	st := &stream{tenant: call.Tenant, op: op, id: id, params: params, iv: bytes.Clone(iv), aad: bytes.Clone(aad), data: p.data, emitted: emitted}
	return s.streams.put(s.now(), st)
}
