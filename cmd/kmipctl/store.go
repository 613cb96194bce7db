package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/metrics"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
	"github.com/kmip-adapter/kmip-adapter/store/postgres"
)

func storeCmd() *cobra.Command {
	st := &cobra.Command{Use: "store", Short: "Object store: copy a single-node store into PostgreSQL, verify record MACs"}
	var from, to, progressFile, configPath string
	var batch int
	migrate := &cobra.Command{
		Use:   "migrate --from bbolt:PATH --to postgres:DSN",
		Short: "Copy a bbolt store into PostgreSQL (resumable)",
		Long: `migrate copies every tenant and object of a single-node (bbolt) store into a
PostgreSQL database, for moving to active-active nodes. Records are copied as
they are: revisions, creation and change times, sealed key material (which
stays sealed under the same tenant keys, so the nodes need the same root of
trust).

Stop the server that uses the bbolt file first (the file is locked while it
runs). The target schema is created or upgraded as a node would do it.

Each record is checked on the way: its attributes must decode, and their
Unique Identifier, Object Type and State must match the record, and its
integrity MAC must verify through the root of trust (the SKEY of the HSM), which
--config (the server's configuration file) names; a record that fails stops
the copy (kmipctl store verify lists every such record). Records written before
record MACs existed have none and are copied as they are. Without --config a
record that carries a MAC stops the copy: it cannot be verified.

The copy can be interrupted (Ctrl-C) and run again: records already in the
target are compared with the source and skipped when equal; a record that
differs stops the copy rather than being overwritten.

--to takes postgres:DSN or a postgres:// URL. Keep the password off the
command line: put it in PGPASSWORD or ~/.pgpass, which the driver reads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var macer backend.RecordMACer
			if configPath != "" {
				cfg, err := cli.LoadConfig(configPath, cmd.Flags(), nil)
				if err != nil {
					return err
				}
				be, err := backend.Open(ctx, cfg.Backend)
				if err != nil {
					return fmt.Errorf("--config: %w", err)
				}
				defer be.Close()
				m, ok := backend.As[backend.RecordMACer](be)
				if !ok {
					return fmt.Errorf("--config: backend %s does not MAC records: nothing to verify with", cfg.Backend.Type)
				}
				macer = m
			}
			return storeMigrate(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), from, to, batch, macer, metrics.NewJobFile(progressFile, "store_migrate"))
		},
	}
	migrate.Flags().StringVar(&from, "from", "", "source store: bbolt:PATH")
	migrate.Flags().StringVar(&to, "to", "", "target store: postgres:DSN or postgres://USER@HOST:PORT/DATABASE")
	migrate.Flags().IntVar(&batch, "batch", 500, "objects written per transaction")
	migrate.Flags().StringVar(&configPath, "config", "", "the server's configuration file: its root of trust verifies each record's integrity MAC")
	migrate.Flags().StringVar(&progressFile, "progress-file", "", progressFileUsage)
	_ = migrate.MarkFlagRequired("from")
	_ = migrate.MarkFlagRequired("to")
	st.AddCommand(migrate, storeVerifyCmd())
	return st
}

// postgresDSN reads a store argument naming PostgreSQL: postgres:DSN, or a
// postgres:// or postgresql:// URL. ok is false for anything else.
func postgresDSN(arg string) (dsn string, ok bool) {
	switch {
	case strings.HasPrefix(arg, "postgres://"), strings.HasPrefix(arg, "postgresql://"):
		return arg, true
	case strings.HasPrefix(arg, "postgres:"):
		return strings.TrimPrefix(arg, "postgres:"), true
	}
	return "", false
}

// migrateStats counts what a copy did.
type migrateStats struct {
	tenants, tenantsKept int
	copied, kept         int
	verified, noMAC      int // records whose MAC verified, records without one
}

func storeMigrate(ctx context.Context, out, errOut io.Writer, from, to string, batch int, macer backend.RecordMACer, job *metrics.JobFile) error {
	path, ok := strings.CutPrefix(from, "bbolt:")
	if !ok || path == "" {
		return fmt.Errorf("--from: %q is not bbolt:PATH", from)
	}
	dsn, ok := postgresDSN(to)
	if !ok || dsn == "" {
		return fmt.Errorf("--to: %q is not postgres:DSN or a postgres:// URL", to)
	}
	if batch < 1 || batch > 10000 {
		return fmt.Errorf("--batch: %d is outside 1..10000", batch)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	// The copy reads the whole file through bbolt's map: bounded like the
	// server's, so the job's resident memory stays small.
	src, err := bbolt.Open(path, bbolt.WithResidentLimit(int64(config.Default().Store.Bbolt.ResidentLimitMiB)<<20))
	if errors.Is(err, bbolt.ErrLocked) {
		return fmt.Errorf("--from: %s is in use: stop the server that uses it first", path)
	}
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	if be, ok := macer.(backend.Backend); ok {
		// Records MACed with the store's record MAC key verify with it
		// (recordkey.go); the key's record is copied like the others.
		keys, err := openRecordKeys(ctx, src, be, macer, "", false)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		defer keys.Close()
		macer = keys
	}
	dst, err := postgres.Open(ctx, postgres.Options{DSN: dsn, MaxConns: 4})
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()

	start := time.Now()
	var stats migrateStats
	bar := newProgress(errOut)
	bar.job = job
	err = copyStore(ctx, src, dst, batch, macer, &stats, bar)
	fmt.Fprintf(out, "tenants  %d copied, %d already there\n", stats.tenants, stats.tenantsKept)
	fmt.Fprintf(out, "objects  %d copied, %d already there (%s)\n", stats.copied, stats.kept, time.Since(start).Round(time.Millisecond))
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: run the same command again to resume (what is copied stays)")
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "checked  every record's attributes decode and match it; %d integrity MACs verified through the root of trust, %d records without a MAC (written before record MACs)\n", stats.verified, stats.noMAC)
	fmt.Fprintf(out, "\nnext: set store.type: postgres and store.postgres.dsn in each node's configuration (%s holds the old store)\n", filepath.Base(path))
	return nil
}

// copyStore copies every tenant and object of src into dst, then checks
// that dst holds at least as many objects per tenant.
func copyStore(ctx context.Context, src *bbolt.Store, dst *postgres.Store, batch int, macer backend.RecordMACer, stats *migrateStats, bar *progress) error {
	tenants, err := src.TenantIDs(ctx)
	if err != nil {
		return err
	}
	counts := make(map[string]int, len(tenants))
	total := 0
	for _, id := range tenants {
		n, err := src.CountObjects(ctx, store.ListQuery{TenantID: id, IDsOnly: true})
		if err != nil {
			return err
		}
		counts[id] = n
		total += n
	}
	bar.start(total)
	defer bar.finish()

	for _, id := range tenants {
		if err := copyTenant(ctx, src, dst, id, stats); err != nil {
			return err
		}
		var pending []*store.Object
		flush := func() error {
			if len(pending) == 0 {
				return nil
			}
			present, err := dst.ImportObjects(ctx, pending)
			if err != nil {
				return err
			}
			for i, p := range present {
				if p == nil {
					stats.copied++
					continue
				}
				if diff := recordDiff(pending[i], p); diff != "" {
					return fmt.Errorf("object %s/%s is in the target and differs (%s): refusing to overwrite it", p.TenantID, p.ID, diff)
				}
				stats.kept++
			}
			bar.add(len(pending))
			pending = pending[:0]
			return nil
		}
		err := src.ScanObjects(ctx, id, "", func(o *store.Object) error {
			if err := checkRecord(o); err != nil {
				return fmt.Errorf("object %s/%s: %w", o.TenantID, o.ID, err)
			}
			if err := checkRecordMAC(ctx, macer, o, stats); err != nil {
				return fmt.Errorf("object %s/%s: %w", o.TenantID, o.ID, err)
			}
			pending = append(pending, o)
			if len(pending) < batch {
				return nil
			}
			return flush()
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return err
		}
	}
	if _, err := copyClients(ctx, src, dst); err != nil {
		return err
	}
	if _, err := copyAuditHeads(ctx, src, dst); err != nil {
		return fmt.Errorf("audit chain heads: %w", err)
	}
	for _, id := range tenants {
		n, err := dst.CountObjects(ctx, store.ListQuery{TenantID: id, IDsOnly: true})
		if err != nil {
			return err
		}
		if n < counts[id] {
			return fmt.Errorf("tenant %s: the target holds %d objects, the source %d", id, n, counts[id])
		}
	}
	return nil
}

func copyTenant(ctx context.Context, src *bbolt.Store, dst *postgres.Store, id string, stats *migrateStats) error {
	t, err := src.GetTenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // objects without a tenant key (none of them sealed)
	}
	if err != nil {
		return err
	}
	if len(t.KeyBlob) == 0 {
		return fmt.Errorf("tenant %s: no key blob", id)
	}
	err = dst.ImportTenant(ctx, t)
	if errors.Is(err, store.ErrExists) {
		have, gerr := dst.GetTenant(ctx, id)
		if gerr != nil {
			return gerr
		}
		if have.Backend != t.Backend || !bytes.Equal(have.KeyBlob, t.KeyBlob) {
			return fmt.Errorf("tenant %s is in the target with another key: its objects could not be opened there; refusing to mix them", id)
		}
		stats.tenantsKept++
		return nil
	}
	if err != nil {
		return err
	}
	stats.tenants++
	return nil
}

// checkRecord verifies what can be verified of a record without the root
// of trust: its attributes decode, and say the same as its columns.
func checkRecord(o *store.Object) error {
	if len(o.Attributes) == 0 {
		return errors.New("record has no attributes")
	}
	l, err := attr.Unmarshal(o.Attributes)
	if err != nil {
		return err
	}
	if a, ok := l.Get(attr.UniqueIdentifier); ok {
		if v, err := a.Text(); err != nil || v != o.ID {
			return fmt.Errorf("attribute Unique Identifier %q does not match the record", v)
		}
	}
	for _, c := range []struct {
		name string
		want uint32
	}{{attr.ObjectType, o.ObjectType}, {attr.State, o.State}} {
		if a, ok := l.Get(c.name); ok {
			if v, err := a.Enum(); err != nil || v != c.want {
				return fmt.Errorf("attribute %s %d does not match the record's %d", c.name, v, c.want)
			}
		}
	}
	return nil
}

// checkRecordMAC verifies the record's integrity MAC through the root of
// trust, as a server does before it serves the record.
func checkRecordMAC(ctx context.Context, macer backend.RecordMACer, o *store.Object, stats *migrateStats) error {
	if len(o.MAC) == 0 {
		stats.noMAC++
		return nil
	}
	if macer == nil {
		return errors.New("the record carries an integrity MAC: give --config (the server's configuration) so that it is verified through the root of trust")
	}
	status, err := ops.VerifyRecord(ctx, macer, o)
	if err != nil {
		return fmt.Errorf("verify its integrity MAC: %w", err)
	}
	if status != ops.RecordOK {
		return errors.New("its integrity MAC does not verify: refusing to copy it (kmipctl store verify lists every such record)")
	}
	stats.verified++
	return nil
}

// recordDiff names the first field in which the copy in the target differs
// from the source ("" when they are the same, times to PostgreSQL's
// microsecond).
func recordDiff(a, b *store.Object) string {
	us := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
	entries := func(es []store.IndexEntry) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = fmt.Sprintf("%q=%x", e.Key, e.Value)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	switch {
	case a.Revision != b.Revision:
		return fmt.Sprintf("revision %d, target %d", a.Revision, b.Revision)
	case a.ObjectType != b.ObjectType, a.State != b.State, a.Archived != b.Archived:
		return "type, state or archival"
	case !bytes.Equal(a.Attributes, b.Attributes):
		return "attributes"
	case !bytes.Equal(a.Material, b.Material):
		return "key material"
	case !slices.Equal(a.Names, b.Names) && (len(a.Names) > 0 || len(b.Names) > 0):
		return "names"
	case !slices.Equal(entries(a.Index), entries(b.Index)):
		return "index entries"
	case !us(a.CreatedAt).Equal(us(b.CreatedAt)), !us(a.UpdatedAt).Equal(us(b.UpdatedAt)):
		return "timestamps"
	}
	return ""
}

// progress draws a progress bar on a terminal, or prints a line every few
// seconds elsewhere (a log, a pipe).
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	done     int
	began    time.Time
	last     time.Time
	job      *metrics.JobFile // nil: no progress file
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) start(total int) {
	p.total, p.began = total, time.Now()
	p.draw(true)
}

func (p *progress) add(n int) {
	p.done += n
	p.draw(false)
	reportJob(p.w, p.job, p.done, p.total, 0, false)
}

func (p *progress) finish() {
	p.draw(true)
	reportJob(p.w, p.job, p.done, p.total, 0, true)
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(force bool) {
	now := time.Now()
	every := 5 * time.Second
	if p.terminal {
		every = 100 * time.Millisecond
	}
	if !force && now.Sub(p.last) < every {
		return
	}
	p.last = now
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	filled := int(frac * width)
	rate := 0.0
	if s := now.Sub(p.began).Seconds(); s > 0 {
		rate = float64(p.done) / s
	}
	line := fmt.Sprintf("[%s%s] %3.0f%%  %d/%d objects  %.0f/s",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, p.done, p.total, rate)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// devStore reads dev init's --store: "" or "bbolt" for the embedded store
// in DIR/data, or a PostgreSQL DSN (postgres:DSN, postgres://...), which
// is written to DIR/data/postgres.dsn (mode 0600, since it may hold a
// password) for the configuration to name. The database is opened once,
// so that its schema is made and a wrong DSN is found now.
func devStore(ctx context.Context, dir, spec string) (config.Store, error) {
	c := config.Default().Store // the bbolt settings' defaults written out
	c.Path = filepath.Join(dir, "data", "store.db")
	if spec == "" || spec == "bbolt" {
		return c, nil
	}
	dsn, ok := postgresDSN(spec)
	if !ok || dsn == "" {
		return c, fmt.Errorf("--store: %q is not bbolt, postgres:DSN or a postgres:// URL", spec)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return c, err
	}
	dsnFile := filepath.Join(dir, "data", "postgres.dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		return c, err
	}
	c = config.Store{Type: "postgres", Postgres: config.Postgres{
		DSN:             config.Secret{File: dsnFile},
		MaxConns:        postgres.DefaultMaxConns,
		MaxConnLifetime: postgres.DefaultMaxConnLifetime,
		MaxConnIdleTime: postgres.DefaultMaxConnIdleTime,
		ConnectTimeout:  postgres.DefaultConnectTimeout,
		QueryTimeout:    postgres.DefaultQueryTimeout,
	}}
	st, err := cli.OpenStore(ctx, c)
	if err != nil {
		return c, fmt.Errorf("--store: %w", err)
	}
	return c, st.Close()
}
