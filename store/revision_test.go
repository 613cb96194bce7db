package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNextStamp(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := created.Add(time.Hour)
	stored := &Stamp{Revision: 3, CreatedAt: created, UpdatedAt: created.Add(time.Minute)}
	tests := []struct {
		name    string
		carried uint64
		stored  *Stamp
		want    Stamp
		wantErr error
		errText string
	}{
		{name: "create", want: Stamp{Revision: 1, CreatedAt: now, UpdatedAt: now}},
		{name: "create over a record", stored: stored, wantErr: ErrExists},
		{name: "update", carried: 3, stored: stored, want: Stamp{Revision: 4, CreatedAt: created, UpdatedAt: now}},
		{name: "update of nothing", carried: 3, wantErr: ErrNotFound},
		{name: "stale update", carried: 2, stored: stored, wantErr: ErrConflict, errText: "revision conflict: stored revision 3, update carries 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextStamp(tc.carried, tc.stored, now)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				if tc.errText != "" {
					assert.EqualError(t, err, tc.errText)
				}
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
