package store

import (
	"context"
	"time"
)

// Checkpoint kinds.
const (
	// CheckpointAuditHead is the latest chain head of one audit log, by
	// the log's id (audit.LogID): what `kmipctl audit verify` checks the
	// log against, so that records cut off its end are detected.
	CheckpointAuditHead = "audit.head"
	// CheckpointJob is the progress of a resumable batch job (`kmipctl
	// hsm rotate`, `kmipctl kms rewrap`), by job name.
	CheckpointJob = "job"
)

// Checkpoint is a small record of where something stands that every node
// and operator sharing the store can read: an audit log's chain head, a
// batch job's cursor. Data is the kind's own JSON document; the store
// keeps it as JSON (PostgreSQL may reformat it, never change its meaning).
type Checkpoint struct {
	Kind string
	// ID names the checkpoint within its kind.
	ID string
	// Node is the host (or process) that wrote it last.
	Node string
	// Data is a JSON object.
	Data []byte
	// Revision is set by the store: 1 on create, +1 on each update.
	Revision  uint64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Checkpoints is implemented by stores that keep checkpoints.
type Checkpoints interface {
	// PutCheckpoint creates a checkpoint (c.Revision == 0; ErrExists if
	// (Kind, ID) is taken) or replaces it (c.Revision must match the
	// stored one; ErrConflict otherwise, ErrNotFound if there is none).
	// It sets c.Revision and the timestamps.
	PutCheckpoint(ctx context.Context, c *Checkpoint) error
	// GetCheckpoint returns ErrNotFound for an unknown (kind, id).
	GetCheckpoint(ctx context.Context, kind, id string) (*Checkpoint, error)
	// ListCheckpoints returns the checkpoints of a kind, sorted by ID.
	ListCheckpoints(ctx context.Context, kind string) ([]*Checkpoint, error)
	// DeleteCheckpoint removes a checkpoint; ErrNotFound if missing.
	DeleteCheckpoint(ctx context.Context, kind, id string) error
}

// Change is what a Watcher reports.
type Change struct {
	// Kind is ChangeRegistry, or ChangeResync after the watch was
	// (re)established: changes made while it was down were not seen, so
	// everything a node caches must be reloaded.
	Kind string
}

// Change kinds.
const (
	ChangeRegistry = "registry" // a tenant or client record changed
	ChangeResync   = "resync"
)

// Watcher is implemented by stores shared by several processes that tell
// a process at once when another one changed something that nodes cache
// (the tenant and client registry), so that caches are reloaded without
// waiting for a poll.
type Watcher interface {
	// Watch calls fn with each change committed by anyone (this process
	// included), in order, until ctx ends; fn runs on Watch's goroutine.
	// While it cannot watch (the database is down) it retries with
	// backoff, and each time the watch is (re)established it reports
	// ChangeResync. It returns when ctx ends. Watching reports whether
	// changes are being watched now.
	Watch(ctx context.Context, fn func(Change))
	Watching() bool
}
