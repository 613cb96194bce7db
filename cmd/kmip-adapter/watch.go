package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/kmip/identity"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// watchedStore is a store that reports other nodes' changes at once and
// the errors of its watch (store/postgres).
type watchedStore interface {
	store.Watcher
	OnWatchError(func(error))
}

// followStoreChanges makes a node see at once what another node changed
// in the tenant and client registry, on a store that tells (PostgreSQL
// LISTEN/NOTIFY): the registry is reloaded and the cached tenant KEK
// blobs dropped (a rotation rewraps them). The registry poll
// (registry.refresh_interval) keeps running beside it, as the fallback
// while the watch is down. Other stores: nothing to do.
func followStoreChanges(ctx context.Context, st store.Store, ident *identity.Identity, service *ops.Service, log zerolog.Logger) {
	w, ok := st.(watchedStore)
	if !ok {
		return
	}
	var down time.Time
	w.OnWatchError(func(err error) {
		if down.IsZero() {
			down = time.Now()
			log.Warn().Err(err).Msg("store change notifications lost; reconnecting (registry changes of other nodes arrive by poll meanwhile)")
		}
	})
	go w.Watch(ctx, func(c store.Change) {
		if c.Kind == store.ChangeResync {
			if !down.IsZero() {
				log.Info().Dur("down", time.Since(down).Round(time.Millisecond)).Msg("store change notifications back")
				down = time.Time{}
			} else {
				log.Info().Msg("listening for store change notifications")
			}
		}
		service.ForgetTenantKeys()
		if err := ident.Invalidate(ctx); err != nil {
			log.Warn().Err(err).Str("change", c.Kind).Msg("client registry reload failed; keeping the current registry")
		}
	})
}
