package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture it runs on.
const userHZ = 100

// serverCPU is the CPU time (user and system, every thread) that process
// pid and its descendants have used so far, in nanoseconds, read from
// /proc: with --server-pid the load generator measures a local server's
// CPU per operation beside its own (pykmip-server may run children, so
// they count too). ok is false when pid cannot be read.
func serverCPU(pid int) (ns int64, ok bool) {
	if pid <= 0 {
		return 0, false
	}
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, false
	}
	all := map[int64]procStat{}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone since the glob
		}
		if id, st, ok := parseStat(b); ok {
			all[id] = st
		}
	}
	root, found := all[int64(pid)]
	if !found {
		return 0, false
	}
	ticks := root.ticks
	// Descendants: walk each process's parents up to pid.
	for id, s := range all {
		for p, hops := s.ppid, 0; p > 1 && hops < 64; hops++ {
			if p == int64(pid) {
				ticks += all[id].ticks
				break
			}
			p = all[p].ppid
		}
	}
	return ticks * (1e9 / userHZ), true
}

// procStat is what serverCPU reads of one /proc/PID/stat line.
type procStat struct{ ppid, ticks int64 }

// parseStat reads pid, ppid and utime+stime from a /proc/PID/stat line.
// The command name, in parentheses, may hold spaces and parentheses: the
// fields that follow are counted from its last ')'.
func parseStat(b []byte) (pid int64, s procStat, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return 0, s, false
	}
	pid, err := strconv.ParseInt(string(bytes.TrimSpace(b[:open])), 10, 64)
	if err != nil {
		return 0, s, false
	}
	// After ") ": state(0) ppid(1) pgrp(2) session(3) tty(4) tpgid(5)
	// flags(6) minflt(7) cminflt(8) majflt(9) cmajflt(10) utime(11)
	// stime(12).
	f := bytes.Fields(b[end+1:])
	if len(f) < 13 {
		return 0, s, false
	}
	ppid, err1 := strconv.ParseInt(string(f[1]), 10, 64)
	ut, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, s, false
	}
	return pid, procStat{ppid: ppid, ticks: ut + st}, true
}
