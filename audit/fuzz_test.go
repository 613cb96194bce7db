package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzVerifyLog hands Verify and Walk any file as the log (an operator
// may point them at a damaged or planted one), seeded with a real log.
// Neither may panic or fail to finish; a file that Verify finds whole
// under the key is one that Walk reads whole too, with the same records.
func FuzzVerifyLog(f *testing.F) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	path := filepath.Join(f.TempDir(), "audit.log")
	// A little unused space (zeros) after the records, as a
	// preallocated segment has, without making every input megabytes.
	s := openSink(f, path, key, func(o *Options) { o.Preallocate = 512 })
	for i := 0; i < 3; i++ {
		require.NoError(f, s.Record(context.Background(), event(i)))
	}
	require.NoError(f, s.Close())
	real, err := os.ReadFile(path)
	require.NoError(f, err)
	f.Add(real)
	f.Add(real[:len(real)-7])
	f.Add([]byte("{}\n"))
	f.Add([]byte("{\"seq\":1} 00\n"))

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "audit.log") // inputs run one at a time in a worker
		require.NoError(t, os.WriteFile(p, data, 0o600))
		var rep, wrep Report
		var err, werr error
		walked := uint64(0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			rep, err = Verify(p, key)
			wrep, werr = Walk(p, func(string, int, Record) error { walked++; return nil })
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Verify or Walk still running after 5s on %q", data)
		}
		if err != nil || rep.Problem != nil {
			return
		}
		if werr != nil || wrep.Problem != nil {
			t.Fatalf("Verify found the log whole (%d records) but Walk did not: %v %v", rep.Records, werr, wrep.Problem)
		}
		if walked != rep.Records {
			t.Fatalf("Verify checked %d records, Walk read %d", rep.Records, walked)
		}
	})
}
