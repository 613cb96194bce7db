package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// changeFollower applies other nodes' changes and is the collector of
// its metrics.
type changeFollower struct {
	w                  store.Watcher
	changes, reconnect atomic.Uint64
}

var (
	watchUpDesc = prometheus.NewDesc("kmip_adapter_store_watch_up",
		"1 while the node listens for store change notifications (PostgreSQL LISTEN), 0 while it reconnects (registry changes then arrive by poll).", nil, nil)
	watchChangesDesc = prometheus.NewDesc("kmip_adapter_store_watch_notifications_total",
		"Store change notifications received (each makes the node reload its registry; a burst is folded into one reload).", nil, nil)
	watchLostDesc = prometheus.NewDesc("kmip_adapter_store_watch_lost_total",
		"Listening connections lost (each then reopened with backoff).", nil, nil)
)

// Describe implements prometheus.Collector.
func (f *changeFollower) Describe(ch chan<- *prometheus.Desc) {
	ch <- watchUpDesc
	ch <- watchChangesDesc
	ch <- watchLostDesc
}

// Collect implements prometheus.Collector.
func (f *changeFollower) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if f.w.Watching() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(watchUpDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(watchChangesDesc, prometheus.CounterValue, float64(f.changes.Load()))
	ch <- prometheus.MustNewConstMetric(watchLostDesc, prometheus.CounterValue, float64(f.reconnect.Load()))
}

// followStoreChanges makes a node see at once what another node changed
// in the tenant and client registry, on a store that tells (PostgreSQL
// LISTEN/NOTIFY): the registry is reloaded and the cached tenant KEK
// blobs dropped (a rotation rewraps them, a deleted tenant's must go).
// The registry poll (registry.refresh_interval) keeps running beside it,
// as the fallback while the watch is down. It returns the metrics'
// collector, or nil for a store that does not tell (nothing to do).
func followStoreChanges(ctx context.Context, st store.Store, ident *identity.Identity, service *ops.Service, log zerolog.Logger) prometheus.Collector {
	w, ok := st.(watchedStore)
	if !ok {
		return nil
	}
	f := &changeFollower{w: w}
	// Both callbacks run on Watch's goroutine.
	var down time.Time
	w.OnWatchError(func(err error) {
		f.reconnect.Add(1)
		if down.IsZero() {
			down = time.Now()
			log.Warn().Err(err).Msg("store change notifications lost; reconnecting (registry changes of other nodes arrive by poll meanwhile)")
		}
	})
	// Reloads run on their own goroutine, and notifications that arrive
	// during one are folded into the next: a burst (a rotation rewrapping
	// every tenant) costs two reloads, not one per tenant.
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
			}
			service.ForgetTenantKeys()
			if err := ident.Invalidate(ctx); err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Msg("client registry reload failed; keeping the current registry")
			}
		}
	}()
	go w.Watch(ctx, func(c store.Change) {
		if c.Kind == store.ChangeResync {
			if !down.IsZero() {
				log.Info().Dur("down", time.Since(down).Round(time.Millisecond)).Msg("store change notifications back")
				down = time.Time{}
			} else {
				log.Info().Msg("listening for store change notifications")
			}
		} else {
			f.changes.Add(1)
		}
		select {
		case reload <- struct{}{}:
		default: // a reload is already due: it will see this change too
		}
	})
	return f
}
