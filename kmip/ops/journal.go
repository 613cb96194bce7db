package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Journal records what the items of one batch changed, so that a batch
// sent with the Undo error option (KMIP 1.4 section 6.13) can be rolled
// back when one of its items fails. A nil *Journal records nothing.
type Journal struct {
	entries []journalEntry
}

type journalEntry struct {
	tenant, id string
	before     *store.Object // nil: the item created the object
}

func (j *Journal) created(tenant, id string) {
	if j != nil {
		j.entries = append(j.entries, journalEntry{tenant: tenant, id: id})
	}
}

func (j *Journal) updated(before *store.Object) {
	if j != nil {
		j.entries = append(j.entries, journalEntry{tenant: before.TenantID, id: before.ID, before: before})
	}
}

// Rollback undoes the journal's changes, newest first: created objects are
// deleted, changed ones get their earlier record back (key material
// included, so an undone Destroy leaves the key intact). A change another
// client made to the same object in between is overwritten: the batch asked
// for all or nothing.
func (s *Service) Rollback(ctx context.Context, j *Journal) error {
	if j == nil {
		return nil
	}
	var errs []error
	for i := len(j.entries) - 1; i >= 0; i-- {
		e := j.entries[i]
		var err error
		if e.before == nil {
			err = s.store.DeleteObject(ctx, e.tenant, e.id)
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
		} else {
			err = s.restore(ctx, e.before)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", e.id, err))
		}
	}
	j.entries = nil
	return errors.Join(errs...)
}

func (s *Service) restore(ctx context.Context, before *store.Object) error {
	for attempt := 0; ; attempt++ {
		cur, err := s.store.GetObject(ctx, before.TenantID, before.ID)
		if errors.Is(err, store.ErrNotFound) {
			// Deleted since (Import replacing it): make it again.
			rec := *before
			rec.Revision = 0
			return s.store.CreateObject(ctx, &rec)
		}
		if err != nil {
			return err
		}
		rec := *before
		rec.Revision = cur.Revision
		err = s.store.UpdateObject(ctx, &rec)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

// snapshot copies a record so that later changes to it leave the copy as
// it was.
func snapshot(o *store.Object) *store.Object {
	c := *o
	c.Names = append([]string(nil), o.Names...)
	c.Attributes = append([]byte(nil), o.Attributes...)
	c.Material = append([]byte(nil), o.Material...)
	c.Index = append(c.Index[:0:0], o.Index...)
	return &c
}
