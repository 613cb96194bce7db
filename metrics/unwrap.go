package metrics

import "github.com/kmip-adapter/kmip-adapter/backend"

// Unwrap lets backend.As find the optional interfaces the measured
// wrapper does not offer itself (transport import, record MACs): their
// calls are not measured.
func (b *measuredBackend) Unwrap() backend.Backend { return b.Backend }
