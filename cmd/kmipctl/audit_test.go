package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/audit"
)

func TestParseHead(t *testing.T) {
	mac := strings.Repeat("ab", 32)
	tests := []struct {
		in   string
		want audit.Head
		err  bool
	}{
		{"42:" + mac, audit.Head{Seq: 42, MAC: mac}, false},
		{"42:" + strings.ToUpper(mac), audit.Head{Seq: 42, MAC: strings.ToUpper(mac)}, false},
		{"42", audit.Head{}, true},
		{"0:" + mac, audit.Head{}, true},
		{"x:" + mac, audit.Head{}, true},
		{"42:" + mac[:62], audit.Head{}, true},
		{"42:" + mac[:62] + "zz", audit.Head{}, true},
	}
	for _, tt := range tests {
		got, err := parseHead(tt.in)
		if tt.err {
			require.Error(t, err, tt.in)
			assert.Contains(t, err.Error(), "--head: ")
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
	}
}
