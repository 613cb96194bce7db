package bbolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
		require.NoError(t, err)
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	o := &store.Object{TenantID: "t1", ID: "k1", ObjectType: 2, State: 2, Names: []string{"n"}, Material: []byte("sealed")}
	require.NoError(t, s.CreateObject(ctx, o))
	tenant := &store.Tenant{ID: "t1", Backend: "pkcs11", KeyBlob: []byte("blob")}
	require.NoError(t, s.PutTenant(ctx, tenant))
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetObject(ctx, "t1", "k1")
	require.NoError(t, err)
	assert.Equal(t, o, got)
	gotTenant, err := s.GetTenant(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, tenant, gotTenant)
	objs, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t1", Name: "n"})
	require.NoError(t, err)
	assert.Equal(t, []*store.Object{o}, objs)
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()

	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dir.Mode().Perm())
	file, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), file.Mode().Perm())
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()

	// flock conflicts between two opens of the file even in one process,
	// so this is what a second server process sees.
	start := time.Now()
	_, err = Open(path, WithLockTimeout(200*time.Millisecond))
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "store.path: database is locked by another process")
	assert.Less(t, time.Since(start), 2*time.Second)

	// Once the first one lets go, the file opens.
	require.NoError(t, s.Close())
	s2, err := Open(path, WithLockTimeout(200*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, s2.Close())
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.GetObject(context.Background(), "t1", "k1")
	require.ErrorIs(t, err, store.ErrUnavailable)
}

func TestCodec(t *testing.T) {
	o := &store.Object{
		TenantID: "t", ID: "i", ObjectType: 0x80000001, State: 0xffffffff,
		Names: []string{"a", "", "ü"}, Attributes: []byte{0}, Material: []byte{1, 2},
		Archived: true, Index: []store.IndexEntry{{Key: "Name", Value: []byte{0x42, 0}}, {Key: "x-Empty"}},
		Revision: 1 << 40, CreatedAt: time.Unix(0, 1).UTC(), UpdatedAt: time.Unix(-5, 0).UTC(),
	}
	b := encodeObject(o)
	got, err := decodeObject("t", "i", b)
	require.NoError(t, err)
	assert.Equal(t, o, got)

	// Every truncation, a trailing byte and an unknown version are refused.
	for n := range len(b) {
		_, err := decodeObject("t", "i", b[:n])
		assert.ErrorIs(t, err, errCorrupt, "truncated to %d", n)
	}
	_, err = decodeObject("t", "i", append(b, 0))
	assert.ErrorIs(t, err, errCorrupt)
	b[0] = 1
	_, err = decodeObject("t", "i", b)
	assert.ErrorIs(t, err, errCorrupt, "version 1 records are not read")
	b[0] = 4
	_, err = decodeObject("t", "i", b)
	assert.ErrorIs(t, err, errCorrupt)
	b[0] = objectRecordVersion

	// Unknown flags are refused rather than dropped.
	plain := encodeObject(&store.Object{})
	plain[len(plain)-2] = 2
	_, err = decodeObject("t", "i", plain)
	assert.ErrorIs(t, err, errCorrupt)

	tenant := &store.Tenant{ID: "t", Backend: "hpcs", KeyBlob: []byte{9}, Revision: 3, CreatedAt: time.Unix(1, 2).UTC(), UpdatedAt: time.Unix(3, 4).UTC()}
	gotTenant, err := decodeTenant("t", encodeTenant(tenant))
	require.NoError(t, err)
	assert.Equal(t, tenant, gotTenant)
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{1, 2}, []byte{1, 3}},
		{[]byte{1, 0xff}, []byte{2}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, prefixEnd(tc.in), "%x", tc.in)
	}
}

func TestSchema1IsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmip.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, 1))
	}))
	require.NoError(t, s.Close())
	_, err = Open(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema version 1")
}

func TestEntryPrefixes(t *testing.T) {
	// Inline entries and digests never start one another, whatever the
	// lengths: no entry's keys fall under another entry's prefix.
	long := string(bytes.Repeat([]byte{'v'}, maxInlineEntry))
	entries := []store.IndexEntry{
		{Key: "a"}, {Key: "a", Value: []byte{0}}, {Key: "ab"}, {Key: "", Value: []byte("ab")},
		{Key: "k", Value: []byte(long[:maxInlineEntry-1])}, {Key: "k", Value: []byte(long)}, {Key: "k", Value: []byte(long + "x")},
	}
	for i, a := range entries {
		for j, b := range entries {
			if i != j {
				assert.False(t, bytes.HasPrefix(entryPrefix(b), entryPrefix(a)), "%d is a prefix of %d", i, j)
			}
		}
	}
	assert.Equal(t, entryPrefix(entries[6]), entryPrefix(store.IndexEntry{Key: "k", Value: []byte(long + "x")}), "digests are stable")
}

func TestCorruptIndexEntryIsAnError(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "kmip.db"))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateObject(ctx, &store.Object{TenantID: "t1", ID: "k1", Names: []string{"n"}}))
	// An index entry whose record is gone.
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		tb, _, err := openTenant(tx, "t1")
		require.NoError(t, err)
		return tb.records.Delete([]byte("k1"))
	}))
	_, err = s.ListObjects(ctx, store.ListQuery{TenantID: "t1", Name: "n"})
	require.ErrorIs(t, err, store.ErrNotFound)
	ids, err := s.ListObjects(ctx, store.ListQuery{TenantID: "t1", Name: "n", IDsOnly: true})
	require.NoError(t, err, "an IDs-only walk reads no record")
	assert.Len(t, ids, 1)
}
