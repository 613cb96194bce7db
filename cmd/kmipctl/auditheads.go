package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/audit"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// storedHead reads the chain head that the server checkpointed in the
// configuration's store for the log at path. It returns nil and a note
// saying why when there is none to use: the store cannot be opened (an
// embedded store held by the running server), keeps no checkpoints, or
// holds none for this log.
func storedHead(ctx context.Context, cfg config.Config, path string) (*audit.StoredHead, string) {
	id, err := audit.LogID(path)
	if err != nil {
		return nil, err.Error()
	}
	st, err := cli.OpenStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Sprintf("store not read (%v): records cut off the end are not detected without --head", err)
	}
	defer st.Close()
	cs, ok := store.As[store.Checkpoints](st)
	if !ok {
		return nil, fmt.Sprintf("the %s store keeps no chain heads", cfg.Store.Type)
	}
	h, err := audit.ReadStoredHead(ctx, cs, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Sprintf("none stored for log %s (a log written before heads were checkpointed, or by a server on another store)", id)
	}
	if err != nil {
		return nil, err.Error()
	}
	return &h, ""
}

// auditHeadsCmd is `kmipctl audit heads`: every log's stored chain head.
func auditHeadsCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "heads --config FILE",
		Short: "List the chain heads that the nodes checkpointed in the store, one per audit log",
		Long: `heads lists, for every audit log whose server writes to the configuration's
store, the last chain head it checkpointed there: the log id (its first record's
MAC, shortened), the node, the record number and MAC, and when. verify checks a
log against its stored head by default.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cli.LoadConfig(configPath, cmd.Flags(), nil)
			if err != nil {
				return err
			}
			ctx := cmdContext(cmd)
			st, err := cli.OpenStore(ctx, cfg.Store)
			if err != nil {
				return fmt.Errorf("store: %w", err)
			}
			defer st.Close()
			cs, ok := store.As[store.Checkpoints](st)
			if !ok {
				return fmt.Errorf("the %s store keeps no chain heads", cfg.Store.Type)
			}
			list, err := cs.ListCheckpoints(ctx, store.CheckpointAuditHead)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "LOG ID\tNODE\tPATH\tHEAD\tRECORD TIME\tSTORED")
			for _, c := range list {
				h, err := audit.ReadStoredHead(ctx, cs, c.ID)
				if err != nil {
					fmt.Fprintf(w, "%s\t%s\t-\t%v\t-\t%s\n", c.ID, c.Node, err, c.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d:%s\t%s\t%s\n", c.ID, c.Node, auditDash(h.Path), h.Seq, h.MAC,
					h.Time.Format("2006-01-02T15:04:05.000Z07:00"), c.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "server configuration file (YAML): the store")
	return cmd
}
