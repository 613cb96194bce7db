package main

import (
	"context"
	"errors"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// copyAuditHeads copies the audit chain heads that the single node
// checkpointed (store migrate), so that its log keeps being checked
// against them before the node writes its first head to the new store.
// A head already in the target is kept: a node on the target wrote it
// later.
func copyAuditHeads(ctx context.Context, src, dst store.Checkpoints) (copied int, err error) {
	heads, err := src.ListCheckpoints(ctx, store.CheckpointAuditHead)
	if err != nil {
		return 0, err
	}
	for _, h := range heads {
		rec := *h
		rec.Revision = 0
		switch err := dst.PutCheckpoint(ctx, &rec); {
		case errors.Is(err, store.ErrExists):
		case err != nil:
			return copied, err
		default:
			copied++
		}
	}
	return copied, nil
}
