package ops

// RecordKeyBytes hands a test the open record MAC key's memory (not a
// copy: Close must clear it), nil when none is open.
func RecordKeyBytes(k *RecordKeys) []byte {
	if rk := k.key.Load(); rk != nil {
		return rk.key
	}
	return nil
}
