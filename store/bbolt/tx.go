package bbolt

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// txState is the bbolt transaction of an Update and whether a write made
// in it failed half way.
type txState struct {
	tx *bolt.Tx
	// broken is the first write of the transaction that failed for
	// another reason than the expected refusals (exists, not found,
	// conflict, which write nothing): it may have written part of its
	// change, and bbolt cannot undo one write alone, so the transaction
	// is not committed.
	broken error
}

func (t *txState) write(fn func(*bolt.Tx) error) error {
	err := fn(t.tx)
	if err != nil && t.broken == nil &&
		!errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		t.broken = err
	}
	return err
}

// Update implements store.Transactor with one bbolt read-write
// transaction, outside the group commit: it holds the file's one writer
// slot until fn returns (other writes wait, reads do not), and is fsynced
// once at the end. A Store's reads inside fn go through the same
// transaction: bbolt must not open another one on the goroutine that
// holds the writer (its remap would wait for that reader forever).
func (s *Store) Update(ctx context.Context, fn func(tx store.Store) error) error {
	if s.in != nil {
		return fn(s) // nested: part of the enclosing transaction
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bbolt: transaction: %w", err)
	}
	if err := settle(ctx, "transaction"); err != nil {
		return err
	}
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		in := &txState{tx: tx}
		if fnErr = fn(&Store{db: s.db, writes: s.writes, in: in}); fnErr != nil {
			return fnErr
		}
		if in.broken != nil {
			return fmt.Errorf("a write in it failed: %w", in.broken)
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr // as it is, as the contract says
	}
	return wrap("transaction", err)
}

var _ store.Transactor = (*Store)(nil)
