package main

import (
	"bytes"
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// storeRewrapped returns the lazy-rewrap hook: a tenant key that the root
// of trust rewrapped while unwrapping it (after a KMS root key rotation)
// replaces the stored one, if the store still holds the old one (another
// node, or `kmipctl kms rewrap`, may have stored a rewrap first). Failing
// to store it loses nothing: the old blob keeps working and the next
// unwrap tries again.
func storeRewrapped(st store.Store, log zerolog.Logger) func(ctx context.Context, old, updated backend.TenantKey) {
	return func(ctx context.Context, old, updated backend.TenantKey) {
		for attempt := 0; attempt < 3; attempt++ {
			t, err := st.GetTenant(ctx, old.TenantID)
			if err != nil {
				log.Warn().Err(err).Str("tenant", old.TenantID).Msg("rewrapped tenant key not stored")
				return
			}
			if !bytes.Equal(t.KeyBlob, old.Blob) {
				return // already replaced
			}
			t.KeyBlob = updated.Blob
			err = st.PutTenant(ctx, t)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				log.Warn().Err(err).Str("tenant", old.TenantID).Msg("rewrapped tenant key not stored")
				return
			}
			log.Info().Str("tenant", old.TenantID).Msg("rewrapped tenant key stored")
			return
		}
	}
}
