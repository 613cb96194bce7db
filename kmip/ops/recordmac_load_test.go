package ops

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// goMACer is a backend whose only part is a backend.RecordMACer in Go
// (what the load path needs), counting verifications; the operations'
// tests outside the package use hmacMACer.
type goMACer struct {
	backend.Backend
	verifies int
}

func (g *goMACer) mac(tenant string, record []byte) []byte {
	m := hmac.New(sha256.New, []byte("load-test-key"))
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write(record)
	return m.Sum(nil)
}

func (g *goMACer) MACRecord(_ context.Context, tenant string, record []byte) ([]byte, error) {
	return g.mac(tenant, record), nil
}

func (g *goMACer) VerifyRecord(_ context.Context, tenant string, record, mac []byte) error {
	g.verifies++
	if !hmac.Equal(g.mac(tenant, record), mac) {
		return backend.ErrIntegrity
	}
	return nil
}

// TestLoadRecordChecksListsUntilOneDecoded: loadRecord gives the list
// attr.UnmarshalShared gives, on every read; a record with a MAC has its
// list checked until it once decodes, and only then is read without the
// check; a list that fails the check (here text that is not UTF-8, which
// the unchecked decoder would take) fails on every read, MAC or not; a
// record without a MAC is checked on every read. Inside a store
// transaction too.
func TestLoadRecordChecksListsUntilOneDecoded(t *testing.T) {
	ctx := context.Background()
	var good attr.List
	good.Set(attr.UniqueIdentifier, attr.Text("k-1"))
	good.Add(attr.Name, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Text("first"), ttlv.Tag(0x420055)), attr.Retag(attr.Enum(1), ttlv.Tag(0x420054))))
	good.Add(attr.Name, attr.Structure(ttlv.Tag(0x42000B), attr.Retag(attr.Text("second"), ttlv.Tag(0x420055)), attr.Retag(attr.Enum(1), ttlv.Tag(0x420054))))
	good.Set(attr.CryptographicLength, attr.Int(256))
	good.Set(attr.Fresh, attr.Bool(false))
	good.Add("x-custom", attr.Bytes([]byte{1, 2, 3}))
	good.Add("x-custom", attr.Text("a second instance"))
	good[len(good)-1].Index = 7
	goodBytes, err := good.Marshal()
	require.NoError(t, err)
	var bad attr.List
	bad.Set(attr.UniqueIdentifier, attr.Text("k-2"))
	bad.Add("x-custom", attr.Text(string([]byte{0xff, 0xfe})))
	badBytes, err := bad.Marshal()
	require.NoError(t, err)

	for _, tt := range []struct {
		name    string
		attrs   []byte
		mac, ok bool
	}{
		{"well formed, with a MAC", goodBytes, true, true},
		{"well formed, without a MAC", goodBytes, false, true},
		{"not UTF-8, with a MAC", badBytes, true, false},
		{"not UTF-8, without a MAC", badBytes, false, false},
	} {
		for _, inTx := range []bool{false, true} {
			name := tt.name
			if inTx {
				name += ", in a transaction"
			}
			t.Run(name, func(t *testing.T) {
				st, err := bbolt.Open(filepath.Join(t.TempDir(), "store.db"))
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close() })
				macer := &goMACer{}
				ms := newMACStore(st, macer, zerolog.Nop())
				o := &store.Object{TenantID: "t", ID: "k", ObjectType: 2, State: 1, Attributes: tt.attrs, Material: []byte("sealed")}
				if tt.mac {
					require.NoError(t, ms.CreateObject(ctx, o))
				} else {
					require.NoError(t, st.CreateObject(ctx, o))
				}
				want, wantErr := attr.UnmarshalShared(append([]byte(nil), tt.attrs...))
				require.Equal(t, tt.ok, wantErr == nil)
				cache := ms.(macTxStore).verifiedCache
				load := func() (attr.List, error) {
					if !inTx {
						_, l, err := loadRecord(ctx, ms, "t", "k")
						return l, err
					}
					tr, ok := store.As[store.Transactor](ms)
					require.True(t, ok)
					var l attr.List
					err := tr.Update(ctx, func(tx store.Store) error {
						var err error
						_, l, err = loadRecord(ctx, tx, "t", "k")
						return err
					})
					return l, err
				}
				for read := 1; read <= 3; read++ {
					got, err := load()
					if !tt.ok {
						assert.Error(t, err, "read %d", read)
					} else {
						require.NoError(t, err, "read %d", read)
						assert.Equal(t, want, got, "read %d", read)
					}
					if tt.mac {
						rec, err := st.GetObject(ctx, "t", "k")
						require.NoError(t, err)
						decoded, known := cache.verified[cacheKey("t", store.RecordMACInput(rec, rec.Revision), rec.MAC)]
						assert.True(t, known, "read %d: the verified record is remembered", read)
						assert.Equal(t, tt.ok, decoded, "read %d: marked decoded exactly when its list decodes", read)
					} else {
						assert.Empty(t, cache.verified, "read %d: a record without a MAC is not remembered", read)
					}
				}
				assert.Zero(t, macer.verifies, "the records written through the MAC store were remembered when sealed")
			})
		}
	}
}
