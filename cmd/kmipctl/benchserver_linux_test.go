package main

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		pid, ppid int64
		ticks     int64
		ok        bool
	}{
		{"plain", "4242 (kmip-adapter) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 100 0 0", 4242, 1, 325, true},
		{"name with spaces and parentheses", "77 (python3 (pykmip) x) R 12 77 77 0 -1 0 0 0 0 0 10 5 0 0", 77, 12, 15, true},
		{"cut short", "77 (x) R 12 77", 0, 0, 0, false},
		{"no name", "77 R 12", 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, s, ok := parseStat([]byte(tt.line))
			require.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.pid, pid)
				assert.Equal(t, tt.ppid, s.ppid)
				assert.Equal(t, tt.ticks, s.ticks)
			}
		})
	}
}

// TestServerCPUCountsChildren: the CPU a child of the measured process
// burns while it runs is counted (pykmip-server runs children).
func TestServerCPUCountsChildren(t *testing.T) {
	before, ok := serverCPU(os.Getpid())
	require.True(t, ok)
	// A busy loop in the shell itself (no commands forked).
	child := exec.Command("sh", "-c", "i=0; while :; do i=$((i+1)); done")
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	time.Sleep(time.Second)
	during, ok := serverCPU(os.Getpid())
	require.True(t, ok)
	assert.Greater(t, during-before, int64(200*time.Millisecond), "a busy child's CPU counts while it runs")

	_, ok = serverCPU(0)
	assert.False(t, ok)
	_, ok = serverCPU(1 << 30)
	assert.False(t, ok, "no such process")
}
