package version_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/kmip/version"
)

// TestString: the precomputed names and the formatted ones agree, for
// versions inside and outside the table.
func TestString(t *testing.T) {
	for _, v := range []version.Version{{Major: 1, Minor: 4}, {Major: 2, Minor: 1}, {Major: 0, Minor: 0},
		{Major: 2, Minor: 9}, {Major: 2, Minor: 10}, {Major: 3, Minor: 0}, {Major: -1, Minor: 2}, {Major: 1, Minor: -3}, {Major: 12, Minor: 345}} {
		assert.Equal(t, fmt.Sprintf("%d.%d", v.Major, v.Minor), v.String())
	}
}
