package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// A batch job over the tenants (hsm rotate, kms rewrap) keeps its progress
// in the store as a checkpoint (kind store.CheckpointJob, id the job's
// name), so that every operator and node sharing the store sees it
// (`--status`) and a run that stopped (a crash, a killed process) is
// resumed after the last tenant it recorded, instead of walking every
// tenant again.
const (
	jobRunning = "running"
	jobDone    = "done"
	jobFailed  = "failed"
	// jobInterrupted: the run was stopped (Ctrl-C, SIGTERM) and recorded
	// where it stood; the next run resumes it at once.
	jobInterrupted = "interrupted"
	// jobSaveEvery bounds how often progress is written: a run resumed
	// after a crash redoes at most this much work (a tenant already
	// rewrapped is found current and skipped).
	jobSaveEvery = time.Second
)

// jobStale is how long a running job's record may go unwritten before
// another run takes it over (its run died).
var jobStale = 15 * time.Second

// jobState is the checkpoint's document.
type jobState struct {
	State string `json:"state"`
	// Cursor is the last tenant handled, in TenantIDs order.
	Cursor string `json:"cursor"`
	Done   int    `json:"done"`
	Total  int    `json:"total"`
	// Failed are the tenants that failed so far; the next run retries
	// them.
	Failed  []string  `json:"failed,omitempty"`
	Started time.Time `json:"started"`
}

// jobProgress writes one run's progress.
type jobProgress struct {
	cs    store.Checkpoints // nil: the store keeps none
	out   io.Writer
	rec   *store.Checkpoint
	st    jobState
	saved time.Time
}

// jobNode names this run in the job's record.
func jobNode() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s kmipctl pid %d", host, os.Getpid())
}

// startJob begins or resumes job over ids (sorted). It returns the
// progress and the tenants to do, in order: first those an earlier run
// failed, then those after its cursor. A job running elsewhere (its
// record written within jobStale) is refused.
func startJob(ctx context.Context, st store.Store, job string, ids []string, out io.Writer) (*jobProgress, []string, error) {
	cs, ok := store.As[store.Checkpoints](st)
	p := &jobProgress{cs: cs, out: out, st: jobState{State: jobRunning, Total: len(ids), Started: time.Now().UTC()}}
	if !ok {
		return p, ids, nil
	}
	p.rec = &store.Checkpoint{Kind: store.CheckpointJob, ID: job, Node: jobNode()}
	prev, err := cs.GetCheckpoint(ctx, store.CheckpointJob, job)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, nil, fmt.Errorf("read the job's progress: %w", err)
	default:
		p.rec.Revision = prev.Revision
		var was jobState
		if err := json.Unmarshal(prev.Data, &was); err != nil {
			return nil, nil, fmt.Errorf("the stored progress of %s is unreadable: %w", job, err)
		}
		if was.State == jobRunning || was.State == jobInterrupted {
			if age := time.Since(prev.UpdatedAt); was.State == jobRunning && age < jobStale {
				return nil, nil, fmt.Errorf("%s is running on %s (progress written %s ago, %d/%d tenants); see --status, or wait %s for a dead run to be taken over",
					job, prev.Node, age.Round(time.Second), was.Done, was.Total, jobStale)
			}
			todo := slices.Clone(was.Failed)
			done := 0
			for _, id := range ids {
				switch {
				case id > was.Cursor:
					todo = append(todo, id)
				case !slices.Contains(was.Failed, id):
					done++
				}
			}
			p.st.Started, p.st.Cursor, p.st.Done, p.st.Failed = was.Started, was.Cursor, done, nil
			fmt.Fprintf(out, "resuming %s begun %s on %s: after tenant %q, %d of %d tenants done, %d failed tenants retried\n",
				job, was.Started.Format(time.RFC3339), prev.Node, was.Cursor, done, len(ids), len(was.Failed))
			return p, todo, p.save(ctx, true)
		}
	}
	return p, ids, p.save(ctx, true)
}

// step records that tenant id was handled (err: it failed).
func (p *jobProgress) step(ctx context.Context, id string, failed bool) {
	if id > p.st.Cursor {
		p.st.Cursor = id
	}
	if failed {
		p.st.Failed = append(p.st.Failed, id)
	} else {
		p.st.Done++
	}
	if time.Since(p.saved) >= jobSaveEvery {
		_ = p.save(ctx, false)
	}
}

// interrupt records that the run stopped before its end, where it stood.
func (p *jobProgress) interrupt(ctx context.Context) {
	p.st.State = jobInterrupted
	_ = p.save(context.WithoutCancel(ctx), false)
}

// finish records the job's end.
func (p *jobProgress) finish(ctx context.Context) {
	p.st.State = jobDone
	if len(p.st.Failed) > 0 {
		p.st.State = jobFailed
	}
	_ = p.save(context.WithoutCancel(ctx), false)
}

// save writes the progress. Failing to write it does not stop the job:
// it is said once, and the job goes on without it.
func (p *jobProgress) save(ctx context.Context, first bool) error {
	if p.cs == nil {
		return nil
	}
	data, err := json.Marshal(p.st)
	if err != nil {
		return err
	}
	p.rec.Data = data
	err = p.cs.PutCheckpoint(ctx, p.rec)
	switch {
	case err == nil:
		p.saved = time.Now()
		return nil
	case first && (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists)):
		return errors.New("another run of this job started at the same moment; see --status")
	}
	fmt.Fprintf(p.out, "warning: progress not recorded in the store (%v); the job goes on without it\n", err)
	p.cs = nil
	return nil
}

// printJobStatus prints job's stored progress.
func printJobStatus(ctx context.Context, out io.Writer, st store.Store, job string) error {
	cs, ok := store.As[store.Checkpoints](st)
	if !ok {
		return errors.New("this store keeps no job progress")
	}
	c, err := cs.GetCheckpoint(ctx, store.CheckpointJob, job)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(out, "%s: never run on this store\n", job)
		return nil
	}
	if err != nil {
		return err
	}
	var s jobState
	if err := json.Unmarshal(c.Data, &s); err != nil {
		return fmt.Errorf("the stored progress of %s is unreadable: %w", job, err)
	}
	state := s.State
	if state == jobRunning && time.Since(c.UpdatedAt) >= jobStale {
		state = "stopped (no progress for " + time.Since(c.UpdatedAt).Round(time.Second).String() + "; the next run resumes it)"
	}
	fmt.Fprintf(out, "job       %s\n", job)
	fmt.Fprintf(out, "state     %s\n", state)
	fmt.Fprintf(out, "node      %s\n", c.Node)
	fmt.Fprintf(out, "tenants   %d of %d done, %d failed\n", s.Done, s.Total, len(s.Failed))
	fmt.Fprintf(out, "cursor    %q\n", s.Cursor)
	fmt.Fprintf(out, "started   %s\n", s.Started.Format(time.RFC3339))
	fmt.Fprintf(out, "updated   %s\n", c.UpdatedAt.Format(time.RFC3339))
	for _, id := range s.Failed {
		fmt.Fprintf(out, "failed    %s\n", id)
	}
	return nil
}
