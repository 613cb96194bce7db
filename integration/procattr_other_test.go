//go:build !linux

package integration

import "syscall"

// childProcAttr sets nothing where the parent-death signal does not exist.
func childProcAttr() *syscall.SysProcAttr {
	return nil
}
