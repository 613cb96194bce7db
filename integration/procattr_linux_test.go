//go:build linux

package integration

import "syscall"

// childProcAttr makes a server started by the tests die with the test
// binary, even when a test timeout kills it before TestMain cleans up.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
