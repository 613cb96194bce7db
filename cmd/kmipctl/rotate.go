package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/metrics"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// rewrapper is what a backend offers for root rotation (backend/pkcs11).
type rewrapper interface {
	NeedsRewrap(tk backend.TenantKey) (bool, error)
	RewrapTenantKey(ctx context.Context, tk backend.TenantKey) (backend.TenantKey, error)
}

// rotateCmd is `kmipctl hsm rotate`: rewrap every tenant key of the store
// under the configured MKEK.
func rotateCmd() *cobra.Command {
	var configPath, progressFile string
	var status bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Root rotation: rewrap every tenant key under the configured MKEK (resumable)",
		Long: `rotate rewraps every tenant key of the store under the MKEK that
backend.pkcs11.mkek_label names, inside the HSM: the tenant KEKs do not change,
so every object keeps opening, and no key leaves the HSM in the clear.

To rotate the root: create the new MKEK (AES-256, CKA_WRAP and CKA_UNWRAP) on
every partition of the set, the same key on each; set mkek_label to its label
(and mkek_v1_label to the old label, for tenant keys stored before blobs named
their MKEK); restart the server (it keeps serving every tenant meanwhile); run
this command; once it reports nothing left, the old MKEK may be removed.

Each tenant is rewrapped and written on its own, and the run's progress (cursor,
tenants done and failed, node, times) is kept in the store, so a run that stops
(a crash, an HSM outage) is finished by running it again: it resumes after the
last tenant recorded and retries the failed ones. --status prints that progress
from any machine that reads the store. With the embedded (bbolt) store, stop the
server first (the file is locked); with PostgreSQL it runs beside the servers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cli.LoadConfig(configPath, cmd.Flags(), nil)
			if err != nil {
				return err
			}
			ctx := cmdContext(cmd)
			if status {
				return jobStatus(ctx, cmd.OutOrStdout(), cfg.Store, "hsm_rotate")
			}
			be, err := backend.New(ctx, cfg.Backend)
			if err != nil {
				return err
			}
			defer be.Close()
			rw, ok := be.(rewrapper)
			if !ok {
				return fmt.Errorf("backend %s cannot rewrap tenant keys", cfg.Backend.Type)
			}
			st, err := cli.OpenStore(ctx, cfg.Store)
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer st.Close()
			return rotate(ctx, cmd.OutOrStdout(), st, rw, cfg.Backend.Type, "hsm_rotate", metrics.NewJobFile(progressFile, "hsm_rotate"))
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&progressFile, "progress-file", "", progressFileUsage)
	cmd.Flags().BoolVar(&status, "status", false, statusUsage)
	return cmd
}

// rotateStats counts what a rotation did.
type rotateStats struct {
	total, rewrapped, current, skipped int
	failed                             []string
}

// rotate rewraps the tenant keys of st that need it, reporting progress
// on out and in the store under name (jobprogress.go), resuming a run of
// name that stopped. It returns an error naming the tenants that failed.
// job (may be nil) receives the progress for node_exporter's textfile
// collector.
func rotate(ctx context.Context, out io.Writer, st store.Store, rw rewrapper, backendType, name string, job *metrics.JobFile) error {
	sc, ok := store.As[store.Scanner](st)
	if !ok {
		return errors.New("the store cannot list its tenants")
	}
	ids, err := sc.TenantIDs(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	// The record MAC marker's internal tenant holds one record and no key.
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == ops.RecordMACMarkerTenant })
	progress, todo, err := startJob(ctx, st, name, ids, out)
	if err != nil {
		return err
	}
	var stats rotateStats
	stats.total = len(ids)
	bar := newRotateBar(out, len(ids))
	bar.done = len(ids) - len(todo)
	for _, id := range todo {
		if err := ctx.Err(); err != nil {
			progress.interrupt(ctx)
			return err
		}
		done, err := rotateTenant(ctx, st, rw, backendType, id)
		progress.step(ctx, id, err != nil)
		switch {
		case err != nil:
			stats.failed = append(stats.failed, fmt.Sprintf("%s: %v", id, err))
		case done == "rewrapped":
			stats.rewrapped++
		case done == "current":
			stats.current++
		default:
			stats.skipped++
		}
		bar.step()
		reportJob(out, job, bar.done, stats.total, len(stats.failed), false)
	}
	bar.finish()
	progress.finish(ctx)
	reportJob(out, job, bar.done, stats.total, len(stats.failed), true)
	root := "the configured MKEK"
	if backendType == "hpcs" {
		root = "the root key's newest version"
	}
	fmt.Fprintf(out, "tenants: %d; rewrapped now: %d; already under %s: %d; without a tenant key of this backend: %d; failed: %d\n",
		stats.total, stats.rewrapped, root, stats.current, stats.skipped, len(stats.failed))
	if len(stats.failed) > 0 {
		return fmt.Errorf("%d tenants not rewrapped (run again to retry): %s", len(stats.failed), strings.Join(stats.failed, "; "))
	}
	fmt.Fprintln(out, "every tenant key is under "+root)
	return nil
}

// rotateTenant rewraps one tenant's key if it needs it. A concurrent
// update of the tenant record (another node) is retried.
func rotateTenant(ctx context.Context, st store.Store, rw rewrapper, backendType, id string) (string, error) {
	for attempt := 0; ; attempt++ {
		t, err := st.GetTenant(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return "skipped", nil // objects without a tenant record
		}
		if err != nil {
			return "", err
		}
		if t.Backend != backendType || len(t.KeyBlob) == 0 {
			return "skipped", nil
		}
		tk := backend.TenantKey{TenantID: id, Blob: t.KeyBlob, Root: t.Root}
		need, err := rw.NeedsRewrap(tk)
		if err != nil {
			return "", err
		}
		if !need {
			return "current", nil
		}
		re, err := rw.RewrapTenantKey(ctx, tk)
		if err != nil {
			return "", err
		}
		t.KeyBlob = re.Blob
		err = st.PutTenant(ctx, t)
		if errors.Is(err, store.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return "", err
		}
		return "rewrapped", nil
	}
}

// rotateBar draws the rotation's progress: a bar redrawn in place on a
// terminal, a line at each tenth elsewhere (a log, a pipe).
type rotateBar struct {
	w        io.Writer
	terminal bool
	total    int
	done     int
	shown    int // tenths printed, off a terminal
	began    time.Time
}

func newRotateBar(w io.Writer, total int) *rotateBar {
	b := &rotateBar{w: w, total: total, began: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			b.terminal = true
		}
	}
	b.draw()
	return b
}

func (b *rotateBar) step() {
	b.done++
	if b.terminal {
		b.draw()
		return
	}
	if tenth := b.done * 10 / max(b.total, 1); tenth > b.shown {
		b.shown = tenth
		b.draw()
	}
}

func (b *rotateBar) finish() {
	if b.terminal {
		fmt.Fprintln(b.w)
	}
}

func (b *rotateBar) draw() {
	const width = 30
	frac := 1.0
	if b.total > 0 {
		frac = float64(b.done) / float64(b.total)
	}
	filled := int(frac * width)
	line := fmt.Sprintf("[%s%s] %3.0f%%  %d/%d tenants  %s",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, b.done, b.total, time.Since(b.began).Round(time.Millisecond))
	if b.terminal {
		fmt.Fprintf(b.w, "\r%s", line)
	} else {
		fmt.Fprintln(b.w, line)
	}
}

// statusUsage is the help of the batch jobs' --status.
const statusUsage = "print the progress of the last or running run, as kept in the store (any node or operator), and exit"

// jobStatus prints the stored progress of job.
func jobStatus(ctx context.Context, out io.Writer, c config.Store, job string) error {
	st, err := cli.OpenStore(ctx, c)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	return printJobStatus(ctx, out, st, job)
}

// progressFileUsage is the help of the batch jobs' --progress-file.
const progressFileUsage = "write progress as Prometheus text to this file (for node_exporter's textfile collector, e.g. /var/lib/node_exporter/textfile/kmipctl.prom)"

// reportJob updates job, saying once on out if the file cannot be
// written (the job goes on).
func reportJob(out io.Writer, job *metrics.JobFile, done, total, failed int, finished bool) {
	if err := job.Update(done, total, failed, finished); err != nil && !jobWarned {
		jobWarned = true
		fmt.Fprintf(out, "warning: %v (the job goes on)\n", err)
	}
}

var jobWarned bool
