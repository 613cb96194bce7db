package ops

import (
	"context"
	"errors"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Transactions: a change to several objects (Re-key, Create Key Pair,
// Import over an existing object, the items of a batch sent with the Undo
// option) is made all or nothing. With a store.Transactor it is one store
// transaction, carried in the context so that every read and write of the
// operations below (tenantKey's included) goes through it; with another
// store it is the older compensation: the changes are journalled and
// undone by later writes when something fails.

// txKey carries the store.Store of the transaction running in a context.
type txKey struct{}

// db is the store that calls made with ctx use: the transaction running
// in ctx, or the service's store.
func (s *Service) db(ctx context.Context) store.Store {
	if tx, ok := ctx.Value(txKey{}).(store.Store); ok {
		return tx
	}
	return s.store
}

// inTx reports whether ctx carries a transaction.
func inTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(store.Store)
	return ok
}

// txAttempts is how many times atomic runs an operation whose transaction
// the database broke to resolve a deadlock with another node's.
const txAttempts = 4

// atomic runs fn so that its writes are all kept or none is. Inside a
// transaction already (an Undo batch) fn simply joins it. The call's ID
// Placeholder is restored when fn fails.
func (s *Service) atomic(ctx context.Context, call *Call, fn func(ctx context.Context) error) error {
	if inTx(ctx) {
		// A failed item rolls the whole batch back: what fn wrote
		// before failing goes with it.
		placeholder := call.Placeholder
		err := fn(ctx)
		if err != nil {
			call.Placeholder = placeholder
		}
		return err
	}
	tr := s.transactor
	if tr == nil {
		return s.compensated(ctx, call, fn)
	}
	placeholder := call.Placeholder
	for attempt := 0; ; attempt++ {
		call.Placeholder = placeholder
		err := tr.Update(ctx, func(tx store.Store) error {
			return fn(context.WithValue(ctx, txKey{}, tx))
		})
		if err == nil {
			return nil
		}
		call.Placeholder = placeholder
		if !errors.Is(err, store.ErrConflict) || attempt+1 >= txAttempts || !s.backoff(ctx, attempt) {
			return err
		}
	}
}

// compensated is atomic for a store without transactions: fn's changes
// are journalled, undone if it fails, and added to the batch's journal
// if it succeeds.
func (s *Service) compensated(ctx context.Context, call *Call, fn func(ctx context.Context) error) error {
	outer, placeholder := call.Journal, call.Placeholder
	local := &Journal{}
	call.Journal = local
	err := fn(ctx)
	call.Journal = outer
	if err != nil {
		call.Placeholder = placeholder
		if rerr := s.Rollback(ctx, local); rerr != nil {
			s.log.Error().Err(rerr).Msg("could not undo the first steps of a failed operation")
		}
		return err
	}
	if outer != nil {
		outer.entries = append(outer.entries, local.entries...)
	}
	return nil
}

// Transaction runs the items of a batch sent with the Undo option (run,
// which reports whether every item succeeded) all or nothing: committed
// when run returns true, rolled back when it returns false. kept says
// whether the items' changes stand afterwards: false with a nil error
// when they were undone, false with the commit's error when a successful
// batch could not be committed (its items must answer failure), true with
// an error when an undo by compensation failed (the earlier items stand).
func (s *Service) Transaction(ctx context.Context, j *Journal, run func(ctx context.Context) bool) (kept bool, err error) {
	tr := s.transactor
	if tr == nil {
		if run(ctx) {
			return true, nil
		}
		if err := s.Rollback(ctx, j); err != nil {
			return true, err
		}
		return false, nil
	}
	errUndo := errors.New("undo")
	err = tr.Update(ctx, func(tx store.Store) error {
		if !run(context.WithValue(ctx, txKey{}, tx)) {
			return errUndo
		}
		return nil
	})
	switch {
	case errors.Is(err, errUndo):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
