//go:build unix

package main

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProcessCPU: the load generator's CPU clock reads and moves forward
// with work done.
func TestProcessCPU(t *testing.T) {
	before, ok := processCPU()
	require.True(t, ok)
	sum := sha256.Sum256(nil)
	for range 200000 {
		sum = sha256.Sum256(sum[:])
	}
	after, ok := processCPU()
	require.True(t, ok)
	assert.Greater(t, after, before, "hashing took CPU time (%x)", sum[:2])
}
