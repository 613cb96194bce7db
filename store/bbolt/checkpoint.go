package bbolt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Checkpoints live in their own bucket, made on the first write: key kind
// NUL id, value the JSON of checkpointRecord.
var bucketCheckpoints = []byte("checkpoints")

type checkpointRecord struct {
	Node    string          `json:"node"`
	Data    json.RawMessage `json:"data"`
	Rev     uint64          `json:"revision"`
	Created int64           `json:"created_ns"`
	Updated int64           `json:"updated_ns"`
}

func checkpointKey(kind, id string) []byte { return []byte(kind + "\x00" + id) }

func decodeCheckpoint(k, v []byte) (*store.Checkpoint, error) {
	var r checkpointRecord
	kind, id, ok := strings.Cut(string(k), "\x00")
	if !ok || json.Unmarshal(v, &r) != nil {
		return nil, fmt.Errorf("checkpoint record: %w", errCorrupt)
	}
	return &store.Checkpoint{
		Kind: kind, ID: id, Node: r.Node, Data: []byte(r.Data), Revision: r.Rev,
		CreatedAt: timeFromNanos(r.Created), UpdatedAt: timeFromNanos(r.Updated),
	}, nil
}

// PutCheckpoint implements store.Checkpoints.
func (s *Store) PutCheckpoint(ctx context.Context, c *store.Checkpoint) error {
	op := fmt.Sprintf("put checkpoint %q/%q", c.Kind, c.ID)
	if c.Kind == "" || c.ID == "" || strings.ContainsRune(c.Kind, 0) {
		return fmt.Errorf("bbolt: %s: empty kind or id", op)
	}
	if !json.Valid(c.Data) {
		return fmt.Errorf("bbolt: %s: data is not JSON", op)
	}
	rec := *c
	err := s.update(ctx, op, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCheckpoints)
		if err != nil {
			return err
		}
		key := checkpointKey(c.Kind, c.ID)
		var stored *store.Stamp
		if v := b.Get(key); v != nil {
			old, err := decodeCheckpoint(key, v)
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
		enc, err := json.Marshal(checkpointRecord{
			Node: rec.Node, Data: json.RawMessage(rec.Data), Rev: rec.Revision,
			Created: rec.CreatedAt.UnixNano(), Updated: rec.UpdatedAt.UnixNano(),
		})
		if err != nil {
			return err
		}
		return b.Put(key, enc)
	})
	if err != nil {
		return err
	}
	c.Revision, c.CreatedAt, c.UpdatedAt = rec.Revision, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// GetCheckpoint implements store.Checkpoints.
func (s *Store) GetCheckpoint(ctx context.Context, kind, id string) (*store.Checkpoint, error) {
	var c *store.Checkpoint
	err := s.view(ctx, fmt.Sprintf("get checkpoint %q/%q", kind, id), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints)
		if b == nil {
			return store.ErrNotFound
		}
		key := checkpointKey(kind, id)
		v := b.Get(key)
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		c, err = decodeCheckpoint(key, v)
		return err
	})
	return c, err
}

// ListCheckpoints implements store.Checkpoints; keys sort by kind, then id.
func (s *Store) ListCheckpoints(ctx context.Context, kind string) ([]*store.Checkpoint, error) {
	var out []*store.Checkpoint
	err := s.view(ctx, fmt.Sprintf("list checkpoints %q", kind), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints)
		if b == nil {
			return nil
		}
		prefix := []byte(kind + "\x00")
		cur := b.Cursor()
		for k, v := cur.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = cur.Next() {
			c, err := decodeCheckpoint(k, v)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// DeleteCheckpoint implements store.Checkpoints.
func (s *Store) DeleteCheckpoint(ctx context.Context, kind, id string) error {
	return s.update(ctx, fmt.Sprintf("delete checkpoint %q/%q", kind, id), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCheckpoints)
		if b == nil || b.Get(checkpointKey(kind, id)) == nil {
			return store.ErrNotFound
		}
		return b.Delete(checkpointKey(kind, id))
	})
}

var _ store.Checkpoints = (*Store)(nil)
