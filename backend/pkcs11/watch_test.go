package pkcs11

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestCallWatch: stalled measures from the last return, or from the start
// of a busy spell, never from a return before an idle time; calls joining
// a stalled spell do not hide it.
func TestCallWatch(t *testing.T) {
	var w callWatch
	d, n := w.stalled(time.Now())
	assert.Zero(t, d)
	assert.Zero(t, n)

	w.begin()
	w.end()
	time.Sleep(50 * time.Millisecond) // idle: nothing in flight
	d, n = w.stalled(time.Now())
	assert.Zero(t, n)
	assert.Zero(t, d, "no call in flight: not stalled, however long idle")

	w.begin() // a new spell starts now, not at the return before the idle time
	d, n = w.stalled(time.Now())
	assert.Equal(t, int64(1), n)
	assert.Less(t, d, 40*time.Millisecond)

	time.Sleep(30 * time.Millisecond)
	w.begin() // joins: must not refresh
	d, n = w.stalled(time.Now())
	assert.Equal(t, int64(2), n)
	assert.GreaterOrEqual(t, d, 30*time.Millisecond, "a call joining a stalled spell does not hide it")

	w.end() // a return is progress
	d, n = w.stalled(time.Now())
	assert.Equal(t, int64(1), n)
	assert.Less(t, d, 30*time.Millisecond)
	w.end()
}
