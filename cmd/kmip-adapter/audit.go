package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// openAudit opens the audit log that cfg names, its chain key opened (or,
// on the first start, made) through the root of trust. With no
// audit.path it returns audit.Nop. close writes the log's stop record.
func openAudit(ctx context.Context, cfg config.Config, be backend.Backend, log zerolog.Logger) (rec audit.Recorder, close func(), err error) {
	a := cfg.Audit
	if a.Path == "" {
		log.Warn().Msg("audit log off: set audit.path to record every KMIP operation")
		return audit.Nop{}, func() {}, nil
	}
	key, err := audit.OpenOrCreateKey(ctx, be, cfg.Backend.Type, a.AuditKeyFile(), a.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("audit.key_file: %w", err)
	}
	sink, err := audit.Open(audit.Options{
		Path: a.Path, Key: key, NoSync: a.Sync == "none", MaxSegmentSize: int64(a.MaxSegmentSize),
	})
	clear(key)
	if err != nil {
		return nil, nil, fmt.Errorf("audit.path: %w", err)
	}
	log.Info().Str("path", a.Path).Bool("required", a.Required).Str("sync", a.Sync).Msg("audit log open")
	return sink, func() {
		if err := sink.Close(); err != nil {
			log.Error().Err(err).Msg("audit log close")
			return
		}
		log.Info().Uint64("records", sink.Records()).Uint64("commits", sink.Commits()).Msg("audit log closed")
	}, nil
}
