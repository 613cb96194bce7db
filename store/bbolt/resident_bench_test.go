//go:build linux

package bbolt

import (
	"context"
	"math/rand/v2"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// What a drop of the map costs the reads that follow it, at worst: each
// Locate by Name below runs right after the whole map was dropped, so
// every page it reads (the tree's top included) is refaulted from the page
// cache. Compare with BenchmarkLocateByName (nothing dropped):
//
//	go test ./store/bbolt -run '^$' -bench 'LocateByName' -benchtime 2000x
func BenchmarkLocateByNameAfterDrop(b *testing.B) {
	s, n := benchStore(b)
	own, err := identify(s.db.Path())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := dropMap(s.db, own, dropChunk); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		i := rng.IntN(n)
		got, err := s.ListObjects(ctx, locateQuery(store.ListQuery{Match: []store.IndexEntry{nameEntry(i)}}))
		if err != nil || len(got) != 1 {
			b.Fatalf("name %d: %d objects, %v", i, len(got), err)
		}
	}
}

// BenchmarkDropMap is the drop itself, the whole file resident before
// each (every page of it read).
func BenchmarkDropMap(b *testing.B) {
	s, _ := benchStore(b)
	own, err := identify(s.db.Path())
	if err != nil {
		b.Fatal(err)
	}
	var dropped int64 // bytes of RssFile the drops removed
	for b.Loop() {
		b.StopTimer()
		if err := s.db.View(readAll); err != nil {
			b.Fatal(err)
		}
		before, err := residentFileBytes()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := dropMap(s.db, own, dropChunk); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		after, err := residentFileBytes()
		if err != nil {
			b.Fatal(err)
		}
		dropped += before - after
		b.StartTimer()
	}
	b.ReportMetric(float64(dropped)/float64(b.N)/(1<<20), "MiB/op")
}

// readAll reads every key and value of every bucket through the map.
func readAll(tx *bolt.Tx) error {
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if nested := b.Bucket(k); nested != nil {
					return walk(nested)
				}
			}
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
}
