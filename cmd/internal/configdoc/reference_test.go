package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReferenceIsCurrent fails when docs/configuration.md no longer
// matches the code: run `make docs`.
func TestReferenceIsCurrent(t *testing.T) {
	want, err := Reference("../../../config/config.go")
	require.NoError(t, err)
	got, err := os.ReadFile("../../../docs/configuration.md")
	require.NoError(t, err, "run make docs")
	assert.Equal(t, want, string(got), "docs/configuration.md is stale: run make docs")
	assert.Contains(t, want, "`server.listen`")
	assert.Contains(t, want, "KMIP_ADAPTER_SERVER_LISTEN")
}
