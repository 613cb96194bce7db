package store

import (
	"fmt"
	"time"
)

// Stamp is what a store sets on a tenant, client or checkpoint record it
// writes: the revision and the times.
type Stamp struct {
	Revision  uint64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NextStamp applies the create-or-update-by-revision rule of PutTenant,
// PutClient and PutCheckpoint for a store that reads the stored record in the write's
// transaction: a record carrying revision 0 is created (ErrExists when
// one is stored), one carrying another revision replaces the stored
// record of that revision (RevisionMismatch otherwise). stored is the
// stored record's stamp, nil when there is none; now is the write's
// time. It returns the stamp the written record gets.
func NextStamp(carried uint64, stored *Stamp, now time.Time) (Stamp, error) {
	switch {
	case carried == 0 && stored != nil:
		return Stamp{}, ErrExists
	case carried == 0:
		return Stamp{Revision: 1, CreatedAt: now, UpdatedAt: now}, nil
	case stored == nil || stored.Revision != carried:
		return Stamp{}, RevisionMismatch(carried, stored)
	}
	return Stamp{Revision: stored.Revision + 1, CreatedAt: stored.CreatedAt, UpdatedAt: now}, nil
}

// RevisionMismatch is the error of an update carrying revision carried
// that found stored (nil: no record) instead of a record of that
// revision: ErrNotFound, or ErrConflict naming both revisions.
func RevisionMismatch(carried uint64, stored *Stamp) error {
	if stored == nil {
		return ErrNotFound
	}
	return fmt.Errorf("%w: stored revision %d, update carries %d", ErrConflict, stored.Revision, carried)
}
