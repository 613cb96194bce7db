package bbolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// The Locate benchmarks run on one tenant of benchObjects() objects shaped
// like what the kmip package stores (a Name, a group shared by 100
// objects, algorithm, length and a custom attribute as index entries), a
// second tenant of a tenth of that size, and measure the queries Locate
// sends. They are not run by `go test` without -bench:
//
//	go test ./store/bbolt -run '^$' -bench Locate -benchtime 2000x
//	KMIP_BENCH_OBJECTS=1000000 go test ./store/bbolt -run '^$' -bench Locate -timeout 1h
const benchTenant = "tenant-bench"

func benchObjects(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("KMIP_BENCH_OBJECTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("KMIP_BENCH_OBJECTS=%q: want a positive count", v)
		}
	}
	return n
}

var bench struct {
	once sync.Once
	dir  string
	s    *Store
	n    int
	err  error
}

// TestMain removes the benchmarks' store when the package's tests and
// benchmarks are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench.s != nil {
		_ = bench.s.Close()
	}
	if bench.dir != "" {
		_ = os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchStore fills the shared store once per process.
func benchStore(b *testing.B) (*Store, int) {
	bench.once.Do(func() {
		bench.n = benchObjects(b)
		bench.dir, bench.err = os.MkdirTemp("", "kmip-bench-")
		if bench.err != nil {
			return
		}
		bench.s, bench.err = Open(filepath.Join(bench.dir, "kmip.db"))
		if bench.err != nil {
			return
		}
		start := time.Now()
		bench.err = fill(bench.s, benchTenant, bench.n)
		if bench.err == nil {
			bench.err = fill(bench.s, benchTenant+"-other", max(bench.n/10, 1))
		}
		b.Logf("filled %d objects in %v", bench.n, time.Since(start).Round(time.Millisecond))
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.s, bench.n
}

// fill writes n objects in large transactions without fsync (the records
// and indexes are the ones CreateObject writes).
func fill(s *Store, tenant string, n int) error {
	s.db.NoSync = true
	defer func() { s.db.NoSync = false }()
	base := time.Now().Add(-time.Duration(n) * time.Millisecond)
	const batch = 5000
	for from := 0; from < n; from += batch {
		err := s.db.Update(func(tx *bolt.Tx) error {
			tb, err := createTenant(tx, tenant)
			if err != nil {
				return err
			}
			for i := from; i < min(from+batch, n); i++ {
				o := benchObject(tenant, i)
				o.Revision = 1
				o.CreatedAt = base.Add(time.Duration(i) * time.Millisecond).UTC()
				o.UpdatedAt = o.CreatedAt
				if err := tb.put(o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func benchName(i int) string { return fmt.Sprintf("disk-key-%08d", i) }

// ttlvText and ttlvEnum build Attribute Value items as the kmip package
// stores them (tag 0x42000b).
func ttlvText(s string) []byte {
	b := []byte{0x42, 0x00, 0x0b, 0x07}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	b = append(b, s...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func ttlvEnum(v uint32) []byte {
	b := []byte{0x42, 0x00, 0x0b, 0x05, 0, 0, 0, 4}
	return append(binary.BigEndian.AppendUint32(b, v), 0, 0, 0, 0)
}

func nameEntry(i int) store.IndexEntry {
	// A Name structure: Name Value (text) and Name Type (enumeration 1).
	value := ttlvText(benchName(i))
	value[0], value[1], value[2] = 0x42, 0x00, 0x55
	typ := ttlvEnum(1)
	typ[0], typ[1], typ[2] = 0x42, 0x00, 0x54
	v := []byte{0x42, 0x00, 0x0b, 0x01}
	v = binary.BigEndian.AppendUint32(v, uint32(len(value)+len(typ)))
	return store.IndexEntry{Key: "Name", Value: append(append(v, value...), typ...)}
}

func groupEntry(i int) store.IndexEntry {
	return store.IndexEntry{Key: "Object Group", Value: ttlvText(fmt.Sprintf("group-%d", i/100))}
}

func benchObject(tenant string, i int) *store.Object {
	return &store.Object{
		TenantID: tenant, ID: fmt.Sprintf("%08x-6d7b-4f8a-9c3e-2b1a0f9e8d7c", i),
		ObjectType: 2, State: uint32(1 + i%3),
		Names: []string{benchName(i)},
		Index: []store.IndexEntry{
			nameEntry(i), groupEntry(i),
			{Key: "Cryptographic Algorithm", Value: ttlvEnum(3)},
			{Key: "Cryptographic Length", Value: []byte{0x42, 0x00, 0x0b, 0x02, 0, 0, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0}},
			{Key: "x-Product", Value: ttlvText("VMware vSphere")},
		},
		Attributes: make([]byte, 400),
		Material:   make([]byte, 60),
	}
}

// locateQuery is what Locate asks for a Name (value and type) and an
// Object Type: on-line objects, destroyed ones left out, IDs only.
func locateQuery(q store.ListQuery) store.ListQuery {
	q.TenantID = benchTenant
	q.ObjectType = 2
	q.NotStates = []uint32{6, 7}
	q.Storage = store.StorageOnline
	q.IDsOnly = true
	return q
}

func BenchmarkLocateByName(b *testing.B) {
	s, n := benchStore(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		i := rng.IntN(n)
		got, err := s.ListObjects(ctx, locateQuery(store.ListQuery{Match: []store.IndexEntry{nameEntry(i)}}))
		if err != nil || len(got) != 1 {
			b.Fatalf("name %d: %d objects, %v", i, len(got), err)
		}
	}
}

func BenchmarkLocateByGroup(b *testing.B) {
	s, n := benchStore(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for b.Loop() {
		i := rng.IntN(n)
		got, err := s.ListObjects(ctx, locateQuery(store.ListQuery{
			Match: []store.IndexEntry{groupEntry(i), {Key: "x-Product", Value: ttlvText("VMware vSphere")}},
			Limit: 10,
		}))
		if err != nil || len(got) == 0 {
			b.Fatalf("group of %d: %d objects, %v", i, len(got), err)
		}
	}
}

// BenchmarkLocateNewestPage is a Locate with no attribute and Maximum
// Items 10: the newest objects of the tenant.
func BenchmarkLocateNewestPage(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		got, err := s.ListObjects(ctx, locateQuery(store.ListQuery{Limit: 10}))
		if err != nil || len(got) != 10 {
			b.Fatalf("%d objects, %v", len(got), err)
		}
	}
}
