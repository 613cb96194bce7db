package backend

import (
	"context"
	"fmt"
)

// importer is the TransportImporter of the backend that made tk.
func (r *Router) importer(tk TenantKey) (TransportImporter, error) {
	b, err := r.route(tk)
	if err != nil {
		return nil, err
	}
	t, ok := As[TransportImporter](b)
	if !ok {
		return nil, fmt.Errorf("tenant %q: root of trust %q has no transport keys: %w", tk.TenantID, tk.Type, ErrKeyMissing)
	}
	return t, nil
}

// TransportKeys lists the transport keys of every root of trust that has
// them (labels are per partition; the HSM's are the ones clients use).
func (r *Router) TransportKeys(ctx context.Context) ([]TransportKey, error) {
	var out []TransportKey
	for _, typ := range r.types() {
		b, _ := r.Backend(typ)
		if t, ok := As[TransportImporter](b); ok {
			keys, err := t.TransportKeys(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
		}
	}
	return out, nil
}

// ImportKept goes to the backend that made req.Key.
func (r *Router) ImportKept(ctx context.Context, req TransportImportRequest) ([]byte, int, error) {
	t, err := r.importer(req.Key)
	if err != nil {
		return nil, 0, err
	}
	return t.ImportKept(ctx, req)
}

// DecryptTransport goes to the backend that made req.Key.
func (r *Router) DecryptTransport(ctx context.Context, req TransportImportRequest) ([]byte, error) {
	t, err := r.importer(req.Key)
	if err != nil {
		return nil, err
	}
	return t.DecryptTransport(ctx, req)
}

var _ TransportImporter = (*Router)(nil)
