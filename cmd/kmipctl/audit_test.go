package main

import (
	"bytes"
	"context"
	"path/filepath"
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

func TestAuditShow(t *testing.T) {
	key := make([]byte, audit.KeySize)
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := audit.Open(audit.Options{Path: path, Key: key})
	require.NoError(t, err)
	for _, e := range []audit.Event{
		{Source: audit.SourceKMIP, Tenant: "acme", Client: "CN=a", Operation: "Create", UniqueID: "k1", Result: "success"},
		{Source: audit.SourceKMIP, Tenant: "acme", Client: "CN=a", Operation: "Get", UniqueID: "k1", Result: "success"},
		{Source: audit.SourceKMIP, Tenant: "other", Client: "CN=b", Operation: "Get", UniqueID: "k9", Result: "ItemNotFound", Reason: "object\nnot found"},
	} {
		require.NoError(t, s.Record(context.Background(), e))
	}
	require.NoError(t, s.Close())

	tests := []struct {
		name string
		args []string
		want []string // the OPERATION UNIQUE-ID RESULT of each row
	}{
		{"all", nil, []string{"audit.start - success", "Create k1 success", "Get k1 success", "Get k9 ItemNotFound", "audit.stop - success"}},
		{"tenant", []string{"--tenant", "acme"}, []string{"Create k1 success", "Get k1 success"}},
		{"operation, any case", []string{"--operation", "get"}, []string{"Get k1 success", "Get k9 ItemNotFound"}},
		{"source", []string{"--source", "audit"}, []string{"audit.start - success", "audit.stop - success"}},
		{"both", []string{"--tenant", "other", "--operation", "Get"}, []string{"Get k9 ItemNotFound"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := auditShowCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs(append([]string{path}, tt.args...))
			require.NoError(t, cmd.Execute())
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			require.True(t, strings.HasPrefix(lines[0], "SEQ "), lines[0])
			var got []string
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				require.GreaterOrEqual(t, len(f), 8, l)
				got = append(got, strings.Join(f[5:8], " "))
			}
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, out.String(), "object\nnot", "a reason stays on its line")
		})
	}

	cmd := auditShowCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs([]string{filepath.Join(t.TempDir(), "none.log")})
	assert.ErrorContains(t, cmd.Execute(), "no log at")
}
