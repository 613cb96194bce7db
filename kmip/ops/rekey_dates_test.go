package ops

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

func TestShiftDate(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		start time.Time
		span  int64
		want  time.Time
	}{
		{"a year", now, 365 * 86400, now.AddDate(1, 0, 0)},
		// time.Duration would saturate at 292 years.
		{"five thousand years", now, message.MaxDateTime.Unix() - message.MaxDateTime.AddDate(-5000, 0, 0).Unix(), now.AddDate(5000, 0, 0)},
		{"past 9999", now, message.MaxDateTime.Unix() - message.MinDateTime.Unix(), message.MaxDateTime},
		{"before year 1", now, message.MinDateTime.Unix() - message.MaxDateTime.Unix(), message.MinDateTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.True(t, tt.want.Equal(shiftDate(tt.start, tt.span)), "got %s want %s", shiftDate(tt.start, tt.span), tt.want)
		})
	}
}
