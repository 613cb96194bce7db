package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// The scale benchmarks (make bench-scale, scripts/bench-scale.sh): the
// fill workload grows the store with named keys, and `bench idle` holds
// many idle connections while the script reads the server's memory.

func init() {
	workloads["fill"] = &workload{
		name: "fill", messages: 1,
		description: "Create an AES-256 key with a Name of its own (kmipctl-fill-RUN-N), to grow the store; not part of all",
		setup:       fillSetup,
		worker:      fillWorker,
	}
}

// fillState numbers the keys of one fill run.
type fillState struct {
	run  string
	next atomic.Int64
}

func fillSetup(context.Context, []*client.Conn, int) (any, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &fillState{run: hex.EncodeToString(b)}, nil
}

func fillWorker(state any, _ int) opFunc {
	st := state.(*fillState)
	return func(ctx context.Context, c *client.Conn) error {
		name := fmt.Sprintf("kmipctl-fill-%s-%d", st.run, st.next.Add(1))
		p, err := client.CreatePayload(c.Version(), kmip14.ObjectTypeSymmetricKey, append(aes256(), client.Name(name)))
		if err != nil {
			return err
		}
		msg, err := encode1(c.Version(), kmip20.OperationCreate, p)
		if err != nil {
			return err
		}
		r, err := send(ctx, c, msg)
		if err != nil {
			return err
		}
		if len(r.Payload) <= wire.HeaderLen {
			return errors.New("kmip: Create answered no payload")
		}
		return nil
	}
}

// benchIdleCmd is `kmipctl bench idle`: it opens --conns mutual TLS
// connections, proves each with a Discover Versions, and holds them idle
// for --hold, so that the server's memory per idle connection can be read.
func benchIdleCmd() *cobra.Command {
	var t target
	var conns, parallel int
	var hold time.Duration
	cmd := &cobra.Command{
		Use:   "idle",
		Short: "Hold many idle KMIP connections open (for the server's memory per connection)",
		Long: `idle opens --conns mutual TLS connections to a KMIP server (at most
--parallel handshakes at a time), sends one Discover Versions on each, prints
"holding N connections" and keeps them open and idle for --hold, then closes
them. Mind the server's limits: server.max_connections and its
server.idle_timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := t.dialer()
			if err != nil {
				return err
			}
			d.tls = withResumption(d.tls)
			ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			open := make([]*client.Conn, conns)
			defer func() {
				for _, c := range open {
					if c != nil {
						_ = c.Close()
					}
				}
			}()
			start := time.Now()
			sem := make(chan struct{}, max(parallel, 1))
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			for i := range open {
				wg.Add(1)
				sem <- struct{}{}
				go func(i int) {
					defer wg.Done()
					defer func() { <-sem }()
					c, err := d.dial(ctx)
					if err == nil {
						_, err = c.DiscoverVersions(ctx)
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("connection %d: %w", i+1, err)
						}
						mu.Unlock()
						if c != nil {
							_ = c.Close()
						}
						return
					}
					open[i] = c
				}(i)
			}
			wg.Wait()
			if firstErr != nil {
				return firstErr
			}
			fmt.Fprintf(cmd.OutOrStdout(), "holding %d connections (opened in %.1fs)\n", conns, time.Since(start).Seconds())
			select {
			case <-time.After(hold):
			case <-ctx.Done():
			}
			return nil
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().IntVar(&conns, "conns", 1000, "connections to hold")
	cmd.Flags().IntVar(&parallel, "parallel", 32, "handshakes at a time")
	cmd.Flags().DurationVar(&hold, "hold", 20*time.Second, "how long to hold them")
	return cmd
}

// withResumption gives the load generator's connections TLS session
// resumption: a reconnect (after an error) and the many connections of
// `bench idle` skip the full handshake, as a client that reconnects does.
func withResumption(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	if c.ClientSessionCache == nil {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(1024)
	}
	return c
}
