package object

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransitionEveryPair pins the whole lifecycle table: every state
// against every event.
func TestTransitionEveryPair(t *testing.T) {
	const no = State(0xFFFF) // refused
	states := []State{StatePreActive, StateActive, StateDeactivated, StateCompromised, StateDestroyed, StateDestroyedCompromised}
	events := []Event{EventCreate, EventActivate, EventDeactivate, EventCompromise, EventDestroy, EventUse}
	want := map[State][]State{ //   create, activate,   deactivate,        compromise,                destroy,                   use
		StatePreActive:            {no, StateActive, StateDeactivated, StateCompromised, StateDestroyed, StatePreActive},
		StateActive:               {no, no, StateDeactivated, StateCompromised, no, StateActive},
		StateDeactivated:          {no, no, no, StateCompromised, StateDestroyed, StateDeactivated},
		StateCompromised:          {no, no, no, no, StateDestroyedCompromised, StateCompromised},
		StateDestroyed:            {no, no, no, StateDestroyedCompromised, no, no},
		StateDestroyedCompromised: {no, no, no, no, no, no},
	}
	for _, s := range states {
		for i, e := range events {
			got, err := Transition(s, e)
			if want[s][i] == no {
				assert.Error(t, err, "%s then %s must be refused", s, e)
				assert.Equal(t, s, got, "a refused event leaves the state")
				continue
			}
			require.NoError(t, err, "%s then %s", s, e)
			assert.Equal(t, want[s][i], got, "%s then %s", s, e)
		}
	}
	got, err := Transition(0, EventCreate)
	require.NoError(t, err)
	assert.Equal(t, StatePreActive, got, "a new object is Pre-Active")
}

func TestUseOfDestroyedObjectSaysDestroyed(t *testing.T) {
	_, err := Transition(StateDestroyed, EventUse)
	assert.ErrorIs(t, err, ErrDestroyed)
	_, err = Transition(StateActive, EventDestroy)
	assert.ErrorIs(t, err, ErrWrongState)
}

func TestAdditionalDataBindsEveryField(t *testing.T) {
	base := AdditionalData("t1", "id1", 2, 3, 256)
	for name, other := range map[string][]byte{
		"tenant":    AdditionalData("t2", "id1", 2, 3, 256),
		"id":        AdditionalData("t1", "id2", 2, 3, 256),
		"type":      AdditionalData("t1", "id1", 7, 3, 256),
		"algorithm": AdditionalData("t1", "id1", 2, 4, 256),
		"length":    AdditionalData("t1", "id1", 2, 3, 128),
		"boundary":  AdditionalData("t1i", "d1", 2, 3, 256),
	} {
		assert.NotEqual(t, base, other, name)
	}
}
