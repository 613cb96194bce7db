//go:build linux

package audit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's written data durable. fdatasync writes the metadata
// needed to read the data back (a new size, new blocks) while skipping
// what is not (modification time), so it keeps the guarantee of fsync at
// a lower cost; over preallocated space (prealloc.go) there is no such
// metadata, and it flushes the data alone.
func datasync(f *os.File) error {
	return fileCall(f, "fdatasync", func(fd int) error { return unix.Fdatasync(fd) })
}

// fallocate allocates n bytes of f at off (the file grows to cover
// them), so that a full disk fails here rather than at a later write. A
// file system that cannot is left to the zero-fill that follows.
func fallocate(f *os.File, off, n int64) error {
	err := fileCall(f, "fallocate", func(fd int) error { return unix.Fallocate(fd, 0, off, n) })
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	return err
}

// fileCall runs call on f's descriptor, again while it is interrupted
// (EINTR), and names f in its error.
func fileCall(f *os.File, op string, call func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = call(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: op, Path: f.Name(), Err: serr}
	}
	return nil
}
