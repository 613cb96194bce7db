package identity_test

import (
	"context"
	"testing"
)

// BenchmarkIdentify is the per-connection cost of the registry: finding
// the client and verifying the chain for its tenant.
func BenchmarkIdentify(b *testing.B) {
	f := newFixture(b, "")
	ctx := context.Background()
	st := state(f.a1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.id.Identify(ctx, st, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestCheck is the per-request cost: the client is looked up
// again in the current registry.
func BenchmarkRequestCheck(b *testing.B) {
	f := newFixture(b, "")
	ctx := context.Background()
	c, err := f.id.Identify(ctx, state(f.a1), "")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := c.Authenticate(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
}
