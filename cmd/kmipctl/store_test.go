package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
)

func TestPostgresDSN(t *testing.T) {
	tests := []struct {
		arg, want string
		ok        bool
	}{
		{"postgres://u@h:5432/db?sslmode=verify-full", "postgres://u@h:5432/db?sslmode=verify-full", true},
		{"postgresql://u@h/db", "postgresql://u@h/db", true},
		{"postgres:host=h dbname=db", "host=h dbname=db", true},
		{"postgres:postgres://u@h/db", "postgres://u@h/db", true},
		{"bbolt:/var/lib/store.db", "", false},
		{"mysql://u@h/db", "", false},
	}
	for _, tc := range tests {
		got, ok := postgresDSN(tc.arg)
		assert.Equal(t, tc.ok, ok, tc.arg)
		assert.Equal(t, tc.want, got, tc.arg)
	}
}

// record is an object as the kmip package stores it: attributes that
// repeat the columns.
func record(t *testing.T, id string, objectType, state uint32) *store.Object {
	t.Helper()
	var l attr.List
	l.Set(attr.UniqueIdentifier, attr.Text(id))
	l.Set(attr.ObjectType, attr.Enum(objectType))
	l.Set(attr.State, attr.Enum(state))
	b, err := l.Marshal()
	require.NoError(t, err)
	return &store.Object{TenantID: "t", ID: id, ObjectType: objectType, State: state, Attributes: b, Revision: 3,
		CreatedAt: time.Unix(100, 123456789), UpdatedAt: time.Unix(200, 0)}
}

func TestCheckRecord(t *testing.T) {
	good := record(t, "k1", 2, 1)
	require.NoError(t, checkRecord(good))

	tests := []struct {
		name   string
		change func(o *store.Object)
		want   string
	}{
		{"no attributes", func(o *store.Object) { o.Attributes = nil }, "no attributes"},
		{"attributes do not decode", func(o *store.Object) { o.Attributes = []byte{0x42, 0, 0, 1, 0, 0, 0, 9} }, "decode"},
		{"another identifier", func(o *store.Object) { o.ID = "k2" }, `Unique Identifier "k1"`},
		{"another type", func(o *store.Object) { o.ObjectType = 7 }, "Object Type 2 does not match the record's 7"},
		{"another state", func(o *store.Object) { o.State = 2 }, "State 1 does not match the record's 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := record(t, "k1", 2, 1)
			tc.change(o)
			err := checkRecord(o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRecordDiff(t *testing.T) {
	a := record(t, "k1", 2, 1)
	a.Names = []string{"n"}
	a.Index = []store.IndexEntry{{Key: "x", Value: []byte{1}}, {Key: "x", Value: []byte{1}}}
	b := *a
	// PostgreSQL keeps microseconds, and a repeated entry once.
	b.CreatedAt = a.CreatedAt.Truncate(time.Microsecond)
	b.Index = a.Index[:1]
	assert.Empty(t, recordDiff(a, &b))

	for _, tc := range []struct {
		change func(o *store.Object)
		want   string
	}{
		{func(o *store.Object) { o.Revision++ }, "revision 3, target 4"},
		{func(o *store.Object) { o.Material = []byte{1} }, "key material"},
		{func(o *store.Object) { o.State = 2 }, "type, state or archival"},
		{func(o *store.Object) { o.Names = nil }, "names"},
		{func(o *store.Object) { o.Index = nil }, "index entries"},
		{func(o *store.Object) { o.UpdatedAt = o.UpdatedAt.Add(time.Millisecond) }, "timestamps"},
		{func(o *store.Object) { o.Attributes = append(bytes.Clone(o.Attributes), 0) }, "attributes"},
	} {
		c := b
		tc.change(&c)
		assert.Equal(t, tc.want, recordDiff(a, &c))
	}
}

func TestProgressOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	p.start(4)
	p.add(2) // within the interval: no line
	p.add(2)
	p.finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, buf.String())
	assert.Contains(t, lines[0], "0/4 objects")
	assert.Contains(t, lines[1], "[==============================] 100%  4/4 objects")
}
