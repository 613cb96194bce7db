package pkcs11

import (
	"fmt"
	"sync"
)

// ivSequence hands out the AES-GCM IVs of seals under tenant KEKs: a
// start drawn once from the token's RNG (C_GenerateRandom), then that
// start plus one, plus two, and so on, as a 96-bit big-endian number.
//
// Why not a fresh C_GenerateRandom per seal, as before: that draw was a
// round trip to the HSM on every Create and Register (about 13 µs of CPU
// per Create on SoftHSM2), and it gives a weaker guarantee.
//
// What GCM needs (NIST SP 800-38D, section 8): an IV never used twice
// under the same key. A 96-bit IV becomes the first 96 bits of every
// counter block, so two different IVs, however close in value, never
// share a counter block; consecutive IVs are what the deterministic
// construction of section 8.2.1 (and TLS 1.3's per-record nonces) use.
//
//   - Within one process and one member the IVs are consecutive values of
//     a 96-bit counter: distinct for 2^96 seals.
//   - The same tenant KEK is also used by other runs: earlier or later
//     processes, other nodes of a cluster, other members of an HA set.
//     Each run's IVs are a run of consecutive values starting at a point
//     drawn uniformly from the HSM's RNG, so two runs of a and b seals
//     share an IV with probability at most (a+b)/2^96. For T seals in all
//     spread over p runs that is at most p*T/2^96; random IVs per seal
//     collide with probability about T^2/2^97, which is larger as soon as
//     a run makes more than two seals.
//
// A module that makes its own IV (Luna in FIPS mode) overrides ours, and
// seal stores the IV it reports.
type ivSequence struct {
	mu     sync.Mutex
	next   [gcmIVSize]byte
	seeded bool
}

// take returns the next IV; draw supplies the random start on first use.
func (q *ivSequence) take(draw func(n int) ([]byte, error)) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.seeded {
		start, err := draw(gcmIVSize)
		if err != nil {
			return nil, err
		}
		if len(start) != gcmIVSize {
			return nil, fmt.Errorf("C_GenerateRandom returned %d bytes, want %d", len(start), gcmIVSize)
		}
		copy(q.next[:], start)
		q.seeded = true
	}
	iv := make([]byte, gcmIVSize)
	copy(iv, q.next[:])
	for i := gcmIVSize - 1; i >= 0; i-- { // add one, carrying
		q.next[i]++
		if q.next[i] != 0 {
			break
		}
	}
	return iv, nil
}
