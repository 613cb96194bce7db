package pkcs11

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
)

// pool is a bounded set of logged-in sessions. A PKCS#11 session runs one
// operation at a time, so each call borrows a session for its duration.
// Sessions are opened lazily, up to the bound, and kept open: opening a
// session on a network HSM costs a round trip.
type pool struct {
	idle   chan pkcs11.SessionHandle // open sessions nobody holds
	tokens chan struct{}             // one per open session: the bound
	open   func() (pkcs11.SessionHandle, error)
	close  func(pkcs11.SessionHandle)
}

func newPool(size int, open func() (pkcs11.SessionHandle, error), close func(pkcs11.SessionHandle)) *pool {
	return &pool{
		idle:   make(chan pkcs11.SessionHandle, size),
		tokens: make(chan struct{}, size),
		open:   open,
		close:  close,
	}
}

// get borrows a session: an idle one, a new one while under the bound, or
// the next one returned, whichever comes first, unless ctx ends.
func (p *pool) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case p.tokens <- struct{}{}:
		s, err := p.open()
		if err != nil {
			<-p.tokens
			return 0, err
		}
		return s, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("pkcs11: waiting for a session: %w", ctx.Err())
	}
}

// put returns a healthy session. It never blocks: idle holds at most as
// many sessions as there are tokens.
func (p *pool) put(s pkcs11.SessionHandle) { p.idle <- s }

// discard closes a broken session and frees its place.
func (p *pool) discard(s pkcs11.SessionHandle) {
	p.close(s)
	<-p.tokens
}

// drain closes every idle session. After a session was lost the others
// usually are too (token reset, HSM restart); retrying on them would only
// fail again.
func (p *pool) drain() {
	for {
		select {
		case s := <-p.idle:
			p.discard(s)
		default:
			return
		}
	}
}

// usage reports how many sessions are open and how many of them a call
// holds now. The two reads are not atomic together: good enough for a
// gauge.
func (p *pool) usage() (open, inUse int) {
	open = len(p.tokens)
	inUse = open - len(p.idle)
	if inUse < 0 {
		inUse = 0
	}
	return open, inUse
}
