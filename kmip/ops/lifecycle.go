package ops

import (
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
)

// applyDates moves an object along its lifecycle when a date it carries
// has been reached (KMIP 1.4 section 3.22: a Pre-Active object whose
// Activation Date has passed is Active; an object whose Deactivation Date
// has passed is Deactivated). It runs on every load, so every operation
// sees the state the dates imply; the change is stored with the next write
// of the object.
func (s *Service) applyDates(m *managed) {
	now := s.now()
	reached := func(name string) bool {
		a, ok := m.attrs.Get(name)
		if !ok {
			return false
		}
		t, err := a.Date()
		return err == nil && !t.After(now)
	}
	state := object.State(m.rec.State)
	if state == object.StatePreActive && reached(attr.ActivationDate) {
		state, _ = object.Transition(state, object.EventActivate)
	}
	if (state == object.StatePreActive || state == object.StateActive) && reached(attr.DeactivationDate) {
		state, _ = object.Transition(state, object.EventDeactivate)
	}
	if state != object.State(m.rec.State) {
		m.setState(state)
	}
}
