//go:build !linux

package audit

import "os"

// datasync makes f's written data durable (fsync where fdatasync is not
// available).
func datasync(f *os.File) error { return f.Sync() }

// fallocate is left to the zero-fill that follows where fallocate(2) is
// not available.
func fallocate(*os.File, int64, int64) error { return nil }
