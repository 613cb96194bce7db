package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/audit"
	_ "github.com/kmip-adapter/kmip-adapter/backend/pkcs11" // registers the pkcs11 backend
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
)

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log: verify its chain, show its records"}
	cmd.AddCommand(auditVerifyCmd(), auditShowCmd(), auditHeadsCmd())
	return cmd
}

// auditTarget is the log a command reads: PATH if given, else the
// configuration's audit.path; and its key file.
func auditTarget(cmd *cobra.Command, configPath string, args []string, needConfig bool) (cfg config.Config, path, keyFile string, err error) {
	if configPath != "" || needConfig || len(args) == 0 {
		if cfg, err = cli.LoadConfig(configPath, cmd.Flags(), nil); err != nil {
			return cfg, "", "", err
		}
	}
	path, keyFile = cfg.Audit.Path, cfg.Audit.AuditKeyFile()
	if len(args) == 1 && args[0] != cfg.Audit.Path {
		path, keyFile = args[0], audit.KeyPath(args[0])
	}
	if path == "" {
		return cfg, "", "", errors.New("no audit log: give its PATH, or --config with audit.path set")
	}
	if f, _ := cmd.Flags().GetString("key-file"); f != "" {
		keyFile = f
	}
	return cfg, path, keyFile, nil
}

func auditVerifyCmd() *cobra.Command {
	var configPath, headFlag string
	var noStoredHead bool
	cmd := &cobra.Command{
		Use:   "verify [--config FILE] [PATH]",
		Short: "Check the audit log's chain: every record present, in order, unchanged",
		Long: `verify walks every segment of the audit log (PATH.000001, PATH.000002, ..., PATH),
opens the chain key through the root of trust of the configuration (one HSM call) and
recomputes each record's MAC over the one before it. It prints how many records it
checked and the head of the chain (last record and its MAC), or the first bad record
with its file and line number, and exits 1 on any break: a record removed, added,
reordered or edited, a torn last line, or a key that does not match.

Records cut off the end leave no break behind them. The server checkpoints its
log's chain head in the store (every 1000 records or every second, and when it
stops), and verify checks the log against that stored head by default: the log
must still hold that record with that MAC. With an embedded (bbolt) store that
the running server holds, the stored head cannot be read; verify says so. A head
noted by hand, somewhere the server cannot write, is given with --head SEQ:MAC
and is used instead of the stored one.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, keyFile, err := auditTarget(cmd, configPath, args, true)
			if err != nil {
				return err
			}
			ctx, be, err := openRoots(cmd, cfg)
			if err != nil {
				return err
			}
			defer be.Close()
			key, err := audit.OpenKey(ctx, be, keyFile)
			if err != nil {
				return err
			}
			var head *audit.Head
			if headFlag != "" {
				h, err := parseHead(headFlag)
				if err != nil {
					return err
				}
				head = &h
			}
			out := cmd.OutOrStdout()
			if head == nil && !noStoredHead {
				switch sh, note := storedHead(ctx, cfg, path); {
				case sh != nil:
					h := sh.Head()
					head = &h
					fmt.Fprintf(out, "stored    %d:%s (log %s, node %s, record of %s)\n", sh.Seq, sh.MAC, sh.LogID, sh.Node,
						sh.Time.Format("2006-01-02T15:04:05.000Z07:00"))
				default:
					fmt.Fprintf(out, "stored    no head: %s\n", note)
				}
			}
			rep, err := audit.VerifyHead(path, key, head)
			clear(key)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "log       %s (%d segment(s))\n", path, rep.Segments)
			fmt.Fprintf(out, "records   %d checked\n", rep.Records)
			if rep.Records > 0 {
				fmt.Fprintf(out, "head      %d:%s\n", rep.LastSeq, rep.LastMAC)
			}
			if rep.Problem != nil {
				fmt.Fprintf(out, "BROKEN    %s\n", rep.Problem.Error())
				return fmt.Errorf("audit log %s fails verification at %s line %d", path, rep.Problem.File, rep.Problem.Line)
			}
			fmt.Fprintln(out, "ok        the chain is intact")
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "server configuration file (YAML): the backend, audit.path and audit.key_file")
	cmd.Flags().String("key-file", "", "the audit key file (default: audit.key_file, or PATH.key)")
	cmd.Flags().StringVar(&headFlag, "head", "", "a head noted by an earlier run, SEQ:MAC, that the log must still hold (instead of the stored head)")
	cmd.Flags().BoolVar(&noStoredHead, "no-stored-head", false, "do not read the chain head the server checkpointed in the store")
	return cmd
}

// parseHead reads --head SEQ:MAC.
func parseHead(s string) (audit.Head, error) {
	seq, mac, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || len(mac) != 64 || strings.Trim(strings.ToLower(mac), "0123456789abcdef") != "" {
		return audit.Head{}, fmt.Errorf("--head: %q is not SEQ:MAC (a record number and 64 hex digits)", s)
	}
	return audit.Head{Seq: n, MAC: mac}, nil
}

func auditShowCmd() *cobra.Command {
	var configPath, tenant, operation, source string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [--config FILE] [PATH]",
		Short: "Print the audit log's records, optionally only some tenant's or operation's",
		Long: `show prints the records of the audit log in order, as a table or (--json) one
JSON object per line. It does not check the chain (that is verify) and needs no
HSM; it stops at the first line that is not a record in sequence and reports it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, path, _, err := auditTarget(cmd, configPath, args, false)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(w, "SEQ\tTIME\tSOURCE\tTENANT\tCLIENT\tOPERATION\tUNIQUE ID\tRESULT\tREASON")
			}
			enc := json.NewEncoder(out)
			rep, err := audit.Walk(path, func(_ string, _ int, r audit.Record) error {
				if (tenant != "" && r.Tenant != tenant) || (source != "" && r.Source != source) ||
					(operation != "" && !strings.EqualFold(r.Operation, operation)) {
					return nil
				}
				if asJSON {
					return enc.Encode(r)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format("2006-01-02T15:04:05.000Z07:00"),
					r.Source, auditDash(r.Tenant), auditDash(r.Client), r.Operation, auditDash(r.UniqueID), r.Result, auditOneLine(r.Reason))
				return nil
			})
			_ = w.Flush()
			if err != nil {
				return err
			}
			if rep.Problem != nil {
				return fmt.Errorf("stopped at %s", rep.Problem.Error())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "server configuration file (YAML): audit.path")
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's records")
	cmd.Flags().StringVar(&operation, "operation", "", "only this operation's records (Get, Create, tenant.create, ...)")
	cmd.Flags().StringVar(&source, "source", "", "only records from this source: kmip, admin, auth or audit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per record")
	return cmd
}

func auditDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditOneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
