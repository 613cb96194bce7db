package bbolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// TenantIDs implements store.Scanner: the keys of the tenants bucket and
// the tenant buckets under objects (kept once made, even when their
// objects are all deleted), merged.
func (s *Store) TenantIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.view(ctx, "list tenant ids", func(tx *bolt.Tx) error {
		seen := map[string]bool{}
		add := func(k []byte) {
			if !seen[string(k)] {
				seen[string(k)] = true
				ids = append(ids, string(k))
			}
		}
		if err := tx.Bucket(bucketTenants).ForEach(func(k, _ []byte) error { add(k); return nil }); err != nil {
			return err
		}
		return tx.Bucket(bucketObjects).ForEachBucket(func(k []byte) error { add(k); return nil })
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// ScanObjects implements store.Scanner: one read transaction over the
// tenant's records bucket, in key (ID) order. fn runs inside it, so it
// must not write to this store (bbolt would wait for the read to end).
func (s *Store) ScanObjects(ctx context.Context, tenantID, afterID string, fn func(*store.Object) error) error {
	var fnErr error
	err := s.view(ctx, fmt.Sprintf("scan objects %q", tenantID), func(tx *bolt.Tx) error {
		tb, ok, err := openTenant(tx, tenantID)
		if err != nil || !ok {
			return err
		}
		c := tb.records.Cursor()
		k, v := c.First()
		if afterID != "" {
			k, v = c.Seek([]byte(afterID))
			if k != nil && bytes.Equal(k, []byte(afterID)) {
				k, v = c.Next()
			}
		}
		for n := 1; k != nil; k, v = c.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			o, err := decodeObject(tenantID, string(k), v)
			if err != nil {
				return fmt.Errorf("object %q: %w", k, err)
			}
			if fnErr = fn(o); fnErr != nil {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return fnErr
}

var _ store.Scanner = (*Store)(nil)
