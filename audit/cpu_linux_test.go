//go:build linux

package audit

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// cpuNow returns the CPU time this process has used and, from
// /proc/stat, the busy time of the whole machine (0 if unreadable). The
// machine's includes what the file system's journal thread and the
// block layer spend on this process's fsyncs, which its own does not.
func cpuNow() (proc, machine time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		proc = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return proc, 0
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	fields := bytes.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return proc, 0
		}
		busy += n
	}
	return proc, time.Duration(busy) * time.Second / 100 // USER_HZ
}
