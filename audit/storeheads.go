package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// StoreHeads keeps chain heads as store checkpoints (kind
// store.CheckpointAuditHead, id the log's id), where every node and
// operator sharing the store reads them.
type StoreHeads struct {
	Store store.Checkpoints
	// Node names the writer (host and listener), for operators.
	Node string

	mu  sync.Mutex
	rev map[string]uint64 // the revision last written, by log id
}

// WriteHead implements HeadWriter. The checkpoint is replaced with the
// revision this writer last wrote; one written by someone else meanwhile
// (a copy of this log started elsewhere?) is read and replaced, once.
func (h *StoreHeads) WriteHead(ctx context.Context, head LogHead) error {
	data, err := json.Marshal(head)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rev == nil {
		h.rev = map[string]uint64{}
	}
	for attempt := 0; ; attempt++ {
		c := &store.Checkpoint{Kind: store.CheckpointAuditHead, ID: head.LogID, Node: h.Node, Data: data, Revision: h.rev[head.LogID]}
		err := h.Store.PutCheckpoint(ctx, c)
		if err == nil {
			h.rev[head.LogID] = c.Revision
			return nil
		}
		if attempt > 0 || !(errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound)) {
			return err
		}
		cur, err := h.Store.GetCheckpoint(ctx, store.CheckpointAuditHead, head.LogID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			h.rev[head.LogID] = 0
		case err != nil:
			return err
		default:
			h.rev[head.LogID] = cur.Revision
		}
	}
}

// StoredHead is a head read back from the store, with who wrote it.
type StoredHead struct {
	LogHead
	Node string
}

// ReadStoredHead returns the stored head of the log logID; store.ErrNotFound
// if none was stored.
func ReadStoredHead(ctx context.Context, cs store.Checkpoints, logID string) (StoredHead, error) {
	c, err := cs.GetCheckpoint(ctx, store.CheckpointAuditHead, logID)
	if err != nil {
		return StoredHead{}, err
	}
	var h StoredHead
	if err := json.Unmarshal(c.Data, &h.LogHead); err != nil || h.Seq == 0 || len(h.MAC) != 2*macSize {
		return StoredHead{}, fmt.Errorf("stored head of log %s is not a head (seq and 64 hex digits)", logID)
	}
	h.LogID, h.Node = logID, c.Node
	return h, nil
}

var _ HeadWriter = (*StoreHeads)(nil)
