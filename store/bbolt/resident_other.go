//go:build !linux

package bbolt

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Elsewhere than on Linux the map's residency is not read or bounded:
// WithResidentLimit starts no monitor.
const residencySupported = false

type fileID struct{}

func identify(string) (fileID, error) { return fileID{}, nil }

var errUnsupported = errors.New("resident file pages are read on Linux only")

func residentFileBytes() (int64, error) { return 0, errUnsupported }

func dropMap(*bolt.DB, fileID, uintptr) error { return errUnsupported }
