package cli

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/kmip-adapter/kmip-adapter/config"
)

// Logger builds the process logger: JSON lines, or a console format for
// development.
func Logger(c config.Log, w io.Writer) zerolog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
