//go:build linux

package bbolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var residentBucket = []byte("resident-test")

// residentValue is the value stored under key i: its own index repeated,
// so a page read wrong (zeroed, stale, another page) is seen.
func residentValue(i uint64, size int) []byte {
	v := make([]byte, size)
	for off := 0; off+8 <= size; off += 8 {
		binary.BigEndian.PutUint64(v[off:], i*2654435761+uint64(off))
	}
	return v
}

func residentKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// fillResident writes keys [from, to) with values of size bytes, per
// transactions of batch keys.
func fillResident(t *testing.T, db *bolt.DB, from, to uint64, size, batch int) {
	t.Helper()
	for start := from; start < to; start += uint64(batch) {
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(residentBucket)
			if err != nil {
				return err
			}
			for i := start; i < min(start+uint64(batch), to); i++ {
				if err := b.Put(residentKey(i), residentValue(i, size)); err != nil {
					return err
				}
			}
			return nil
		}))
	}
}

// scanResident reads every key through the map and checks each value; it
// returns the number of keys read.
func scanResident(db *bolt.DB, size int) (uint64, error) {
	var n uint64
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(residentBucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			i := binary.BigEndian.Uint64(k)
			if !bytes.Equal(v, residentValue(i, size)) {
				return fmt.Errorf("key %d: value read wrong", i)
			}
			n++
			return nil
		})
	})
	return n, err
}

func rssFile(t *testing.T) int64 {
	t.Helper()
	rss, err := residentFileBytes()
	require.NoError(t, err)
	return rss
}

// mapResident is the resident size of db's map alone (its /proc/self/smaps
// entry), read inside a read transaction.
func mapResident(t *testing.T, db *bolt.DB) int64 {
	t.Helper()
	var rss int64
	require.NoError(t, db.View(func(*bolt.Tx) error {
		smaps, err := os.ReadFile("/proc/self/smaps")
		if err != nil {
			return err
		}
		// The entry's first line starts with the map's address; its
		// first Rss line is the map's.
		head := fmt.Sprintf("\n%x-", db.Info().Data)
		at := bytes.Index(smaps, []byte(head))
		if at < 0 {
			return fmt.Errorf("no smaps entry at %s", head[1:])
		}
		rss, err = statusKiB(smaps[at+1:], "Rss:")
		return err
	}))
	return rss
}

// TestResidentLimit: reading a store much larger than the limit leaves
// the process's resident file pages far above it without the limit, and
// under it with the limit, every value read right in both cases.
func TestResidentLimit(t *testing.T) {
	const (
		valueSize = 1000
		keys      = 48_000 // about 55 MiB of file
		margin    = 12 << 20
	)
	path := filepath.Join(t.TempDir(), "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	fillResident(t, s.db, 0, keys, valueSize, 5000)
	require.NoError(t, s.Close())

	// Without a limit: one scan maps the whole file into the process.
	s, err = Open(path)
	require.NoError(t, err)
	before := rssFile(t)
	n, err := scanResident(s.db, valueSize)
	require.NoError(t, err)
	require.EqualValues(t, keys, n)
	unbounded := rssFile(t) - before
	assert.Greater(t, unbounded, int64(3*margin), "the scan must bring far more than the margin into the process")
	assert.Greater(t, mapResident(t, s.db), int64(3*margin))
	require.NoError(t, s.Close())

	// With one: the monitor drops the map whenever RssFile passes it.
	limit := rssFile(t) + margin
	s, err = Open(path, WithResidentLimit(limit), withResidentCheck(10*time.Millisecond, dropChunk))
	require.NoError(t, err)
	defer s.Close()
	for range 3 {
		n, err := scanResident(s.db, valueSize)
		require.NoError(t, err)
		require.EqualValues(t, keys, n)
	}
	require.Eventually(t, func() bool { return rssFile(t) <= limit }, 5*time.Second, 10*time.Millisecond,
		"RssFile %d MiB, limit %d MiB", rssFile(t)>>20, limit>>20)
	assert.Positive(t, s.resident.drops.Load())
	assert.Zero(t, s.resident.failures.Load())
	assert.Less(t, mapResident(t, s.db), int64(margin))

	// The metrics say the same.
	got := collect(t, s)
	assert.InDelta(t, float64(limit), got["kmip_adapter_store_map_resident_limit_bytes"], 0)
	assert.InDelta(t, float64(s.resident.drops.Load()), got[`kmip_adapter_store_map_drops_total{result="ok"}`], 0)
	assert.Zero(t, got[`kmip_adapter_store_map_drops_total{result="error"}`])
	assert.Positive(t, got["kmip_adapter_store_map_resident_bytes"])
}

// TestResidentDropsDuringRemaps: the map is dropped over and over, in
// small chunks, while a writer grows the file (bbolt remaps it at every
// doubling) and readers check every value they read. A drop on a range
// that is no longer the map would zero live memory or fault; a drop
// racing the remap would be seen by -race.
func TestResidentDropsDuringRemaps(t *testing.T) {
	const valueSize = 500
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"),
		WithResidentLimit(1), withResidentCheck(time.Millisecond, 256<<10))
	require.NoError(t, err)
	defer s.Close()
	fillResident(t, s.db, 0, 1000, valueSize, 1000)

	var (
		written atomic.Uint64 // keys [0, written) are committed
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		bases   sync.Map // map addresses seen
		readErr atomic.Pointer[error]
	)
	written.Store(1000)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(1, 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				committed := written.Load() // before the transaction: all in its snapshot
				err := s.db.View(func(tx *bolt.Tx) error {
					bases.Store(s.db.Info().Data, true)
					b := tx.Bucket(residentBucket)
					for range 200 {
						i := rng.Uint64N(committed)
						if v := b.Get(residentKey(i)); !bytes.Equal(v, residentValue(i, valueSize)) {
							return fmt.Errorf("key %d: value read wrong", i)
						}
					}
					return nil
				})
				if err != nil {
					readErr.Store(&err)
					return
				}
			}
		}()
	}
	// Grow the file to about 20 MiB: remaps at each doubling of the map.
	const total = 33_000
	for start := uint64(1000); start < total; start += 2000 { // total - 1000 is a multiple of 2000
		fillResident(t, s.db, start, start+2000, valueSize, 2000)
		written.Store(start + 2000)
	}
	close(stop)
	wg.Wait()
	if p := readErr.Load(); p != nil {
		require.NoError(t, *p)
	}
	n, err := scanResident(s.db, valueSize)
	require.NoError(t, err)
	assert.EqualValues(t, total, n)

	remaps := 0
	bases.Range(func(any, any) bool { remaps++; return true })
	t.Logf("%d map addresses seen, %d drops", remaps, s.resident.drops.Load())
	assert.GreaterOrEqual(t, remaps, 3, "the map must have moved while it was dropped")
	assert.Greater(t, s.resident.drops.Load(), int64(10))
	assert.Zero(t, s.resident.failures.Load())
}

// TestDropRefusesAnotherMapping: a drop for a file that is not the one
// mapped at bbolt's address does nothing and says so.
func TestDropRefusesAnotherMapping(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
	require.NoError(t, err)
	defer s.Close()
	fillResident(t, s.db, 0, 20_000, 1000, 5000)
	_, err = scanResident(s.db, 1000)
	require.NoError(t, err)
	before := mapResident(t, s.db)
	require.Greater(t, before, int64(8<<20))

	other, err := identify(os.Args[0]) // the test binary: mapped, but elsewhere
	require.NoError(t, err)
	require.ErrorIs(t, dropMap(s.db, other, dropChunk), errNoMap)
	assert.InDelta(t, before, mapResident(t, s.db), float64(before)/10, "nothing dropped")

	own, err := identify(s.db.Path())
	require.NoError(t, err)
	require.NoError(t, dropMap(s.db, own, dropChunk))
	assert.Less(t, mapResident(t, s.db), before/10)
	n, err := scanResident(s.db, 1000)
	require.NoError(t, err)
	assert.EqualValues(t, 20_000, n)
}

func TestMappedLength(t *testing.T) {
	file := fileID{major: 0xfd, minor: 1, inode: 1234}
	const (
		lib   = "7f0000000000-7f0000100000 r-xp 00000000 fd:01 99 /usr/lib/libx.so\n"
		store = "7f1000000000-7f1004000000 r--s 00000000 fd:01 1234 /var/lib/kmip/store.db\n"
		split = "7f1004000000-7f1008000000 r--s 04000000 fd:01 1234 /var/lib/kmip/store.db\n"
		heap  = "c000000000-c004000000 rw-p 00000000 00:00 0 \n"
	)
	tests := []struct {
		name string
		maps string
		addr uintptr
		want uintptr
		err  error
	}{
		{"the map", lib + store + heap, 0x7f1000000000, 0x4000000, nil},
		{"a map split in two", lib + store + split + heap, 0x7f1000000000, 0x8000000, nil},
		{"the last line", lib + store, 0x7f1000000000, 0x4000000, nil},
		{"nothing at the address", lib + heap, 0x7f1000000000, 0, errNoMap},
		{"anonymous memory at the address", heap, 0xc000000000, 0, errNoMap},
		{"another file at the address", lib, 0x7f0000000000, 0, errNoMap},
		{"the file, not at offset 0", split, 0x7f1004000000, 0, errNoMap},
		{"inside the map, not its start", store, 0x7f1000001000, 0, errNoMap},
		{"garbage lines are skipped", "junk\n" + store, 0x7f1000000000, 0x4000000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mappedLength([]byte(tt.maps), tt.addr, file)
			require.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestStatusKiB(t *testing.T) {
	status := []byte("Name:\tx\nVmRSS:\t  1940 kB\nRssAnon:\t     152 kB\nRssFile:\t    1788 kB\n")
	got, err := statusKiB(status, "RssFile:")
	require.NoError(t, err)
	assert.Equal(t, int64(1788<<10), got)
	_, err = statusKiB(status, "RssShmem:")
	assert.Error(t, err)
	_, err = statusKiB([]byte("RssFile: lots\n"), "RssFile:")
	assert.Error(t, err)
}

// collect gathers a collector's metrics by name and labels.
func collect(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	out := map[string]float64{}
	for m := range ch {
		var pb dto.Metric
		require.NoError(t, m.Write(&pb))
		name := m.Desc().String()
		name = name[strings.Index(name, `fqName: "`)+9:]
		name = name[:strings.Index(name, `"`)]
		for _, l := range pb.GetLabel() {
			name += fmt.Sprintf(`{%s=%q}`, l.GetName(), l.GetValue())
		}
		switch {
		case pb.Gauge != nil:
			out[name] = pb.GetGauge().GetValue()
		case pb.Counter != nil:
			out[name] = pb.GetCounter().GetValue()
		}
	}
	return out
}
