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
		{"serialized", serialize, true},
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
