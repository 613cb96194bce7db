package object

import (
	"errors"
	"fmt"

	"github.com/gemalto/kmip-go/kmip14"
)

// State is a KMIP State enumeration value.
type State = kmip14.State

// The lifecycle states.
const (
	StatePreActive            = kmip14.StatePreActive
	StateActive               = kmip14.StateActive
	StateDeactivated          = kmip14.StateDeactivated
	StateCompromised          = kmip14.StateCompromised
	StateDestroyed            = kmip14.StateDestroyed
	StateDestroyedCompromised = kmip14.StateDestroyedCompromised
)

// Event is something that moves an object through its lifecycle.
type Event int

// Lifecycle events, named after the operation (or the date) that causes them.
const (
	EventCreate Event = iota + 1 // Create, Register: the initial state
	EventActivate
	EventDeactivate // Deactivation Date reached, or Revoke(ceased/superseded)
	EventCompromise // Revoke(key compromise)
	EventDestroy
	EventUse // Get and cryptographic use: the key material must be present
)

func (e Event) String() string {
	return [...]string{"?", "create", "activate", "deactivate", "compromise", "destroy", "use"}[e]
}

// ErrWrongState means the event is not allowed in the object's state
// (KMIP 2.x Result Reason Wrong Key Lifecycle State).
var ErrWrongState = errors.New("wrong key lifecycle state")

// ErrDestroyed means the object's key material is gone.
var ErrDestroyed = errors.New("object destroyed")

// transitions is the lifecycle of KMIP 1.4 section 3.22 figure 1. An event
// absent for a state is not allowed in it.
var transitions = map[State]map[Event]State{
	0: {EventCreate: StatePreActive},
	StatePreActive: {
		EventActivate: StateActive, EventDeactivate: StateDeactivated,
		EventCompromise: StateCompromised, EventDestroy: StateDestroyed, EventUse: StatePreActive,
	},
	StateActive: {
		EventDeactivate: StateDeactivated, EventCompromise: StateCompromised, EventUse: StateActive,
	},
	StateDeactivated: {
		EventCompromise: StateCompromised, EventDestroy: StateDestroyed, EventUse: StateDeactivated,
	},
	StateCompromised: {
		EventDestroy: StateDestroyedCompromised, EventUse: StateCompromised,
	},
	StateDestroyed: {
		EventCompromise: StateDestroyedCompromised,
	},
	StateDestroyedCompromised: {},
}

// Transition returns the state that event leads to from s, or an error
// wrapping ErrWrongState (ErrDestroyed for use of a destroyed object).
func Transition(s State, e Event) (State, error) {
	next, ok := transitions[s][e]
	if ok {
		return next, nil
	}
	if e == EventUse && (s == StateDestroyed || s == StateDestroyedCompromised) {
		return s, fmt.Errorf("%w: %s", ErrDestroyed, s)
	}
	return s, fmt.Errorf("%w: cannot %s an object in state %s", ErrWrongState, e, s)
}
