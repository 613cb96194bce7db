//go:build !linux

package main

// serverCPU is not measured on this platform (it reads Linux's /proc).
func serverCPU(int) (int64, bool) { return 0, false }
