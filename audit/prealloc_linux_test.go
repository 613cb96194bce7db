//go:build linux

package audit

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestFullDiskFailsClosed limits the size of the files this process may
// write (RLIMIT_FSIZE) to the size of the log's preallocated space: the
// records go into that space until it is full, the next chunk cannot be
// allocated (OnPreallocError says so), and then every record fails: none
// is acknowledged without being on disk. Once the limit is lifted the
// records are written again and the chain is intact.
func TestFullDiskFailsClosed(t *testing.T) {
	key := testKey(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	var mu sync.Mutex
	var allocErrs []error
	s := openSink(t, path, key, func(o *Options) {
		o.Preallocate = 64 << 10
		o.OnPreallocError = func(err error) { mu.Lock(); allocErrs = append(allocErrs, err); mu.Unlock() }
	})
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, int64(64<<10), st.Size())

	var old unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_FSIZE, &old))
	restore := func() { require.NoError(t, unix.Setrlimit(unix.RLIMIT_FSIZE, &old)) }
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(st.Size()), Max: old.Max}))
	limited := true
	defer func() {
		if limited {
			restore()
		}
	}()
	written := 0
	var failed error
	for i := 0; i < 2000 && failed == nil; i++ {
		if failed = s.Record(context.Background(), event(i)); failed == nil {
			written++
		}
	}
	require.Error(t, failed, "records past the space the limit allows must fail")
	assert.Greater(t, written, 50, "the preallocated space took records")
	assert.Error(t, s.Record(context.Background(), event(5000)), "and keep failing")
	mu.Lock()
	require.NotEmpty(t, allocErrs, "the failed allocation is reported")
	assert.Contains(t, allocErrs[0].Error(), "file too large")
	mu.Unlock()

	restore()
	limited = false
	require.NoError(t, s.Record(context.Background(), event(6000)), "records are written again once there is room")
	require.NoError(t, s.Close())
	rep, err := Verify(path, key)
	require.NoError(t, err)
	require.Nil(t, rep.Problem)
	assert.Equal(t, uint64(1+written+1+1), rep.Records, "start, the records written, the one after, stop")
}
