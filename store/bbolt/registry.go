package bbolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// The client registry lives in its own bucket, made on the first write:
// key tenant NUL name, value the JSON of clientRecord. Clients are few
// (hundreds), so finding one by fingerprint walks the bucket.
var (
	bucketClients     = []byte("clients")
	keyRegistrySerial = []byte("registry_serial")
)

type clientRecord struct {
	store.Client
	Rev     uint64 `json:"revision"`
	Created int64  `json:"created_ns"`
	Updated int64  `json:"updated_ns"`
}

func clientKey(tenantID, name string) []byte {
	return []byte(tenantID + "\x00" + name)
}

func encodeClient(c *store.Client) ([]byte, error) {
	return json.Marshal(clientRecord{Client: *c, Rev: c.Revision, Created: c.CreatedAt.UnixNano(), Updated: c.UpdatedAt.UnixNano()})
}

func decodeClient(v []byte) (*store.Client, error) {
	var r clientRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("client record: %w", errCorrupt)
	}
	c := r.Client
	c.Revision = r.Rev
	c.CreatedAt = timeFromNanos(r.Created)
	c.UpdatedAt = timeFromNanos(r.Updated)
	return &c, nil
}

func timeFromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// bumpRegistrySerial counts a change of a tenant or client record.
func bumpRegistrySerial(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	var n uint64
	if v := meta.Get(keyRegistrySerial); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	return meta.Put(keyRegistrySerial, binary.BigEndian.AppendUint64(nil, n+1))
}

// RegistrySerial implements store.Registry.
func (s *Store) RegistrySerial(ctx context.Context) (uint64, error) {
	var n uint64
	err := s.view(ctx, "registry serial", func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyRegistrySerial); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n, err
}

// ListTenants implements store.Registry.
func (s *Store) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	var out []*store.Tenant
	err := s.view(ctx, "list tenants", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTenants).ForEach(func(k, v []byte) error {
			t, err := decodeTenant(string(k), v)
			if err != nil {
				return fmt.Errorf("tenant %q: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// DeleteTenant implements store.Registry.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	return s.update(ctx, fmt.Sprintf("delete tenant %q", id), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTenants)
		if b.Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if cb := tx.Bucket(bucketClients); cb != nil {
			prefix := []byte(id + "\x00")
			c := cb.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
				if err := cb.Delete(k); err != nil {
					return err
				}
			}
		}
		return bumpRegistrySerial(tx)
	})
}

// PutClient implements store.Registry.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	op := fmt.Sprintf("put client %q/%q", c.TenantID, c.Name)
	if c.TenantID == "" || c.Name == "" || strings.ContainsRune(c.TenantID, 0) {
		return fmt.Errorf("bbolt: %s: empty tenant or client name", op)
	}
	rec := *c
	err := s.update(ctx, op, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTenants).Get([]byte(c.TenantID)) == nil {
			return fmt.Errorf("tenant %q: %w", c.TenantID, store.ErrNotFound)
		}
		cb, err := tx.CreateBucketIfNotExists(bucketClients)
		if err != nil {
			return err
		}
		key := clientKey(c.TenantID, c.Name)
		var stored *store.Stamp
		if v := cb.Get(key); v != nil {
			old, err := decodeClient(v)
			if err != nil {
				return err
			}
			stored = &store.Stamp{Revision: old.Revision, CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt}
		}
		stamp, err := store.NextStamp(c.Revision, stored, now())
		if err != nil {
			return err
		}
		rec.Revision, rec.CreatedAt, rec.UpdatedAt = stamp.Revision, stamp.CreatedAt, stamp.UpdatedAt
		if c.Fingerprint != "" {
			err := cb.ForEach(func(k, v []byte) error {
				if bytes.Equal(k, key) {
					return nil
				}
				other, err := decodeClient(v)
				if err != nil {
					return err
				}
				if other.Fingerprint == c.Fingerprint {
					return fmt.Errorf("%w: fingerprint registered for client %q/%q", store.ErrExists, other.TenantID, other.Name)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		enc, err := encodeClient(&rec)
		if err != nil {
			return err
		}
		if err := cb.Put(key, enc); err != nil {
			return err
		}
		return bumpRegistrySerial(tx)
	})
	if err != nil {
		return err
	}
	c.Revision, c.CreatedAt, c.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// GetClient implements store.Registry.
func (s *Store) GetClient(ctx context.Context, tenantID, name string) (*store.Client, error) {
	var c *store.Client
	err := s.view(ctx, fmt.Sprintf("get client %q/%q", tenantID, name), func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketClients)
		if cb == nil {
			return store.ErrNotFound
		}
		v := cb.Get(clientKey(tenantID, name))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		c, err = decodeClient(v)
		return err
	})
	return c, err
}

// ListClients implements store.Registry. Keys sort by tenant, then name,
// since NUL sorts before every other byte.
func (s *Store) ListClients(ctx context.Context, tenantID string) ([]*store.Client, error) {
	var out []*store.Client
	err := s.view(ctx, "list clients", func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketClients)
		if cb == nil {
			return nil
		}
		var prefix []byte
		if tenantID != "" {
			prefix = []byte(tenantID + "\x00")
		}
		c := cb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			cl, err := decodeClient(v)
			if err != nil {
				return fmt.Errorf("client %q: %w", k, err)
			}
			out = append(out, cl)
		}
		return nil
	})
	return out, err
}

// DeleteClient implements store.Registry.
func (s *Store) DeleteClient(ctx context.Context, tenantID, name string) error {
	return s.update(ctx, fmt.Sprintf("delete client %q/%q", tenantID, name), func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketClients)
		if cb == nil || cb.Get(clientKey(tenantID, name)) == nil {
			return store.ErrNotFound
		}
		if err := cb.Delete(clientKey(tenantID, name)); err != nil {
			return err
		}
		return bumpRegistrySerial(tx)
	})
}

var _ store.Registry = (*Store)(nil)
