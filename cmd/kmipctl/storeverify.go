package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// storeVerifyCmd is `kmipctl store verify`: every object record's MAC
// checked inside the root of trust, as the server checks it on load.
func storeVerifyCmd() *cobra.Command {
	var configPath string
	var fix bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every stored object record's MAC in the root of trust",
		Long: `verify reads every object record of every tenant in the configured store and
checks its MAC, as the server does before it serves a record: with the
store's record MAC key (opened through the root of trust), or in the HSM
with its SKEY for records MACed that way by older builds. It prints one line per record that fails (TAMPERED) and a
summary that also counts records without a MAC (written before record MACs
existed; they get one on their next write), and says whether the store is
marked "every record carries a MAC": then the server refuses a record
without one exactly as a failing one. It exits 1 if any record fails.

With --fix, verify gives every record without a MAC its MAC (the records are
taken as they are: run it on a store you trust) and then marks the store. A
store made by this version is marked when the server first starts on it.
--fix also rewrites the records whose MAC the HSM's SKEY made (older builds)
with a MAC of the store's record MAC key, which the adapter checks without a
call into the HSM (docs/architecture.md, record integrity).
The server may keep running (on bbolt, stop it first: the file is locked).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cfg, be, err := loadRoots(cmd, configPath)
			if err != nil {
				return err
			}
			defer be.Close()
			macer, ok := backend.As[backend.RecordMACer](be)
			if !ok {
				return fmt.Errorf("backend %s does not MAC records: nothing to verify", cfg.Backend.Type)
			}
			st, err := cli.OpenStore(ctx, cfg.Store)
			if err != nil {
				return err
			}
			defer st.Close()
			// The store's record MAC key verifies the MACs made with it
			// (--fix makes one when the store has none, to rewrite the
			// SKEY's MACs with it).
			keys, err := openRecordKeys(ctx, st, be, macer, cfg.Backend.Type, fix)
			if err != nil {
				return err
			}
			defer keys.Close()
			return storeVerify(ctx, cmd.OutOrStdout(), st, keys, fix)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (YAML)")
	cmd.Flags().BoolVar(&fix, "fix", false, "MAC every record without a MAC, then mark the store so that the server refuses records without one")
	return cmd
}

// errTampered is storeVerify's error when a record fails.
var errTampered = errors.New("records failed their MAC check")

func storeVerify(ctx context.Context, out io.Writer, st store.Store, macer backend.RecordMACer, fix bool) error {
	sc, ok := store.As[store.Scanner](st)
	if !ok {
		return fmt.Errorf("store %T cannot list its records", st)
	}
	tenants, err := sc.TenantIDs(ctx)
	if err != nil {
		return err
	}
	keys, _ := macer.(*ops.RecordKeys)
	var okCount, noMAC, tampered, maced, bySKEY, upgraded int
	for _, tenant := range tenants {
		var missing []string // MACed after the scan, which may not write
		var old []string     // MACed by the SKEY: rewritten with the key by --fix
		err := sc.ScanObjects(ctx, tenant, "", func(o *store.Object) error {
			status, err := ops.VerifyRecord(ctx, macer, o)
			if err != nil {
				return fmt.Errorf("tenant %s object %s: %w", tenant, o.ID, err)
			}
			switch status {
			case ops.RecordOK:
				okCount++
				if keys != nil && !ops.IsKeyMAC(o.MAC) && tenant != ops.RecordKeyTenant {
					bySKEY++
					old = append(old, o.ID)
				}
			case ops.RecordNoMAC:
				noMAC++
				missing = append(missing, o.ID)
			case ops.RecordTampered:
				tampered++
				fmt.Fprintf(out, "TAMPERED tenant=%s object=%s revision=%d\n", tenant, o.ID, o.Revision)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !fix {
			continue
		}
		for _, id := range missing {
			wrote, err := ops.AddRecordMAC(ctx, st, macer, tenant, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant %s object %s: %w", tenant, id, err)
			}
			if wrote {
				maced++
			}
		}
		for _, id := range old {
			wrote, err := ops.UpgradeRecordMAC(ctx, st, keys, tenant, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("tenant %s object %s: %w", tenant, id, err)
			}
			if wrote {
				upgraded++
			}
		}
	}
	fmt.Fprintf(out, "%d records: %d verified, %d without a MAC (MACed on their next write), %d TAMPERED\n", okCount+noMAC+tampered, okCount, noMAC, tampered)
	if fix {
		if err := ops.MarkRecordMACs(ctx, st, macer); err != nil {
			return err
		}
		fmt.Fprintf(out, "fixed: %d records given their MAC\n", maced)
	}
	if bySKEY > 0 {
		if fix {
			fmt.Fprintf(out, "%d records MACed by the SKEY: %d rewritten with the record MAC key\n", bySKEY, upgraded)
		} else {
			fmt.Fprintf(out, "%d records MACed by the SKEY (older builds): verified in the HSM on each read until rewritten (`kmipctl store verify --fix` does it)\n", bySKEY)
		}
	}
	switch marked, err := ops.RecordMACsRequired(ctx, st, macer); {
	case err != nil:
		return err
	case marked:
		fmt.Fprintln(out, "store marked: every record must carry a MAC (one without is refused like a failing one)")
	default:
		fmt.Fprintln(out, "store NOT marked: records without a MAC are served (run `kmipctl store verify --fix` to MAC them and mark the store)")
	}
	if tampered > 0 {
		return fmt.Errorf("%d %w", tampered, errTampered)
	}
	return nil
}

// openRecordKeys opens the store's record MAC key over the root of
// trust's record MACer, as the server does (create: make one when the
// store has none). A key that fails its checks is an error.
func openRecordKeys(ctx context.Context, st store.Store, be backend.Backend, macer backend.RecordMACer, backendType string, create bool) (*ops.RecordKeys, error) {
	keys := ops.NewRecordKeys(st, be, macer, backendType, zerolog.Nop())
	if err := keys.Load(ctx, create); err != nil {
		return nil, err
	}
	return keys, nil
}
