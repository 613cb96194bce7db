//go:build linux

package audit

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's written data durable. fdatasync writes the metadata
// needed to read the data back (a new size, new blocks) while skipping
// what is not (modification time), so it keeps the guarantee of fsync at
// a lower cost; over preallocated space (prealloc.go) there is no such
// metadata, and it flushes the data alone.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// fallocate allocates n bytes of f at off (the file grows to cover
// them), so that a full disk fails here rather than at a later write. A
// file system that cannot is left to the zero-fill that follows.
func fallocate(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fallocate(int(fd), 0, off, n)
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr == unix.EOPNOTSUPP {
		return nil
	}
	if serr != nil {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: serr}
	}
	return nil
}
