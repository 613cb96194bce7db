//go:build !unix

package audit

import (
	"fmt"
	"os"
)

// lock holds PATH.lock open; without flock, two processes on one log are
// not detected here.
func lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return f, nil
}
