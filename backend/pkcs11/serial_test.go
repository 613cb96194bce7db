package pkcs11

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
)

func TestNeedsSerialCalls(t *testing.T) {
	for _, tc := range []struct {
		path, address string
		want          bool
	}{
		{"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so", "", true},
		{"/tmp/dev/members/2/p11-kit-client.so", "", true},
		{"/opt/hsm/libclient.so", "unix:path=/run/p11-kit/pkcs11", true}, // a copy under another name, known by its server
		{"/usr/lib/softhsm/libsofthsm2.so", "", false},
		{"/usr/safenet/lunaclient/lib/libCryptoki2_64.so", "", false},
	} {
		assert.Equal(t, tc.want, needsSerialCalls(tc.path, moduleEnv{ServerAddress: tc.address}), tc.path)
	}
}

// overlapCounter is a module whose GenerateRandom records how many calls
// are inside it at once.
type overlapCounter struct {
	p11
	inside, most atomic.Int32
}

func (o *overlapCounter) GenerateRandom(pkcs11.SessionHandle, int) ([]byte, error) {
	n := o.inside.Add(1)
	for {
		m := o.most.Load()
		if n <= m || o.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(100 * time.Microsecond) // long enough for others to arrive
	o.inside.Add(-1)
	return []byte{0}, nil
}

func TestSerialCallsLetOneCallIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wrap   func(p11) p11
		serial bool
	}{
		{"serialized", func(p p11) p11 { return serialize(p, 0) }, true},
		{"as loaded", func(p p11) p11 { return p }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &overlapCounter{}
			p := tc.wrap(inner)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 20 {
						_, _ = p.GenerateRandom(1, 8)
					}
				})
			}
			wg.Wait()
			if tc.serial {
				assert.Equal(t, int32(1), inner.most.Load())
			} else {
				assert.Greater(t, inner.most.Load(), int32(1), "the counter sees overlap when calls are not serialized")
			}
		})
	}
}

// blockingRandom is a module whose GenerateRandom waits until release is
// closed: a server that stopped answering.
type blockingRandom struct {
	p11
	entered chan struct{}
	release chan struct{}
}

func (b *blockingRandom) GenerateRandom(pkcs11.SessionHandle, int) ([]byte, error) {
	b.entered <- struct{}{}
	<-b.release
	return []byte{0}, nil
}

// TestSerialCallsGiveUpBehindAHungCall: behind a call that does not
// return, the next call waits call_timeout for its turn and fails as a
// member fault, instead of queueing for ever; once the call returns the
// module serves again.
func TestSerialCallsGiveUpBehindAHungCall(t *testing.T) {
	inner := &blockingRandom{entered: make(chan struct{}, 2), release: make(chan struct{})}
	p := serialize(inner, 100*time.Millisecond)
	first := make(chan error, 1)
	go func() {
		_, err := p.GenerateRandom(1, 8)
		first <- err
	}()
	<-inner.entered

	start := time.Now()
	_, err := p.GenerateRandom(1, 8)
	waited := time.Since(start)
	var hung errHung
	assert.ErrorAs(t, err, &hung)
	assert.True(t, isMemberFault(err), "a hung module is the member's fault: the set fails over")
	assert.Contains(t, err.Error(), "has not returned for 100ms (call_timeout)")
	assert.GreaterOrEqual(t, waited, 100*time.Millisecond)
	assert.Less(t, waited, 5*time.Second)

	close(inner.release)
	assert.NoError(t, <-first)
	_, err = p.GenerateRandom(1, 8)
	assert.NoError(t, err, "the module serves again once the call returned")
}
