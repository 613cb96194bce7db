package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// nodeName names this node in the checkpoints it writes: host and KMIP
// listener.
func nodeName(cfg config.Config) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return host + " " + cfg.Server.Listen
}

// openAudit opens the audit log that cfg names, its chain key opened (or,
// on the first start, made) through the root of trust. With no
// audit.path it returns audit.Nop. close writes the log's stop record.
// The log's chain head is checkpointed in st when it keeps checkpoints
// (every audit.DefaultHeadEvery records or audit.DefaultHeadInterval),
// so that `kmipctl audit verify` finds records cut off its end.
func openAudit(ctx context.Context, cfg config.Config, be backend.Backend, st store.Store, log zerolog.Logger) (rec audit.Recorder, close func(), err error) {
	a := cfg.Audit
	if a.Path == "" {
		log.Warn().Msg("audit log off: set audit.path to record every KMIP operation")
		return audit.Nop{}, func() {}, nil
	}
	key, err := audit.OpenOrCreateKey(ctx, be, cfg.Backend.Type, a.AuditKeyFile(), a.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("audit.key_file: %w", err)
	}
	opts := audit.Options{
		Path: a.Path, Key: key, NoSync: a.Sync == "none", MaxSegmentSize: int64(a.MaxSegmentSize),
		Preallocate: int64(a.Preallocate),
		OnPreallocError: func(err error) {
			log.Warn().Err(err).Str("meanwhile", "records are appended (each fsync costs more), and fail if the disk has no room for them either; retried every second").
				Msg("audit log space not preallocated")
		},
	}
	if a.Preallocate == 0 {
		opts.Preallocate = -1
	}
	if cs, ok := store.As[store.Checkpoints](st); ok {
		opts.Heads = &audit.StoreHeads{Store: cs, Node: nodeName(cfg)}
		opts.OnHeadError = func(err error) {
			log.Warn().Err(err).Msg("audit chain head not checkpointed in the store; retrying (records meanwhile are covered once it works)")
		}
	}
	sink, err := audit.Open(opts)
	clear(key)
	if err != nil {
		return nil, nil, fmt.Errorf("audit.path: %w", err)
	}
	log.Info().Str("path", a.Path).Str("log_id", sink.LogID()).Bool("required", a.Required).Str("sync", a.Sync).
		Bool("head_checkpoints", opts.Heads != nil).Msg("audit log open")
	return sink, func() {
		if err := sink.Close(); err != nil {
			log.Error().Err(err).Msg("audit log close")
			return
		}
		log.Info().Uint64("records", sink.Records()).Uint64("commits", sink.Commits()).Msg("audit log closed")
	}, nil
}
