package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/doctor"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// ledgerCmd is `tillctl ledger`: verify and export through the running tilld
// (which holds the file's lock), or straight from the file with --file when
// tilld is stopped; compact and prune work on the file only, with tilld stopped.
func ledgerCmd(client func() *localapi.Client, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "verify, export, prune and compact the ledger of sales",
	}
	openFile := func(path string) (*ledger.Ledger, error) {
		return ledger.Open(path, ledger.Options{ReadOnly: true})
	}

	var verifyFile, verifyKey, verifyConfig string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "check the hash chain, the gap-free seqs, the account views and HQ's signatures of the cached rules; exit 1 on any problem",
		Long: "Checks the ledger: the hash chain, the gap-free seqs, the sales index, every account view against its\n" +
			"rebuild, and every cached ruleset's signature with HQ's key. With --file, the key is found as tilld\n" +
			"finds it: --hq-key, else hq_key in --config when that file sets it, else the enrollment identity in\n" +
			"the ledger file's directory (DATA_DIR/identity). Without a key, the rulesets are reported unchecked.",
		Example: `  tillctl ledger verify
  tillctl ledger verify --file /var/lib/tilld/ledger.db   # with tilld stopped`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep localapi.VerifyReport
			if verifyFile == "" {
				var err error
				if rep, err = client().LedgerVerify(cmd.Context()); err != nil {
					return err
				}
			} else {
				key, err := rulesKeyFor(verifyFile, verifyKey, verifyConfig, cmd.Flags().Changed("config"))
				if err != nil {
					return err
				}
				if key == nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "no HQ rules key: not in %s nor in %s; the cached rulesets cannot be checked (pass --hq-key or --config)\n",
						verifyConfig, filepath.Join(filepath.Dir(verifyFile), "identity"))
				}
				l, err := ledger.Open(verifyFile, ledger.Options{ReadOnly: true, CheckRuleset: till.RulesCheck(key)})
				if err != nil {
					return err
				}
				defer l.Close()
				r, err := l.Verify()
				if err != nil {
					return err
				}
				rep = localapi.ReportOf(r)
			}
			if jsonFlag(cmd) {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printVerify(stdout, rep)
			}
			if !rep.OK {
				return fmt.Errorf("the ledger has %d problems: keep the file as it is and send it to support", len(rep.Problems))
			}
			return nil
		},
	}
	verify.Flags().StringVar(&verifyFile, "file", "", "verify this ledger file directly (tilld must be stopped)")
	verify.Flags().StringVar(&verifyKey, "hq-key", "", "with --file: HQ's rules key (base64, as `tillhq init` prints it)")
	verify.Flags().StringVar(&verifyConfig, "config", doctor.ConfigFile, "with --file: tilld's configuration file, for its hq_key")

	var exportFile string
	var from uint64
	export := &cobra.Command{
		Use:   "export",
		Short: "write the ledger's events as JSON lines, for auditors",
		Long: "Writes one event per line, exactly as HQ receives it, from --from (default: the first event kept).\n" +
			"The chain checks from the first event's seq-1 and prev (the anchor left by pruning, or nothing).",
		Example: `  tillctl ledger export > events.jsonl
  tillctl ledger export --file /var/lib/tilld/ledger.db --from 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if exportFile == "" {
				return client().LedgerExport(cmd.Context(), from, stdout)
			}
			l, err := openFile(exportFile)
			if err != nil {
				return err
			}
			defer l.Close()
			_, err = localapi.ExportEvents(cmd.Context(), l, from, stdout)
			return err
		},
	}
	export.Flags().StringVar(&exportFile, "file", "", "export from this ledger file directly (tilld must be stopped)")
	export.Flags().Uint64Var(&from, "from", 0, "first seq to export")

	var compactFile string
	compact := &cobra.Command{
		Use:   "compact --file PATH",
		Short: "give the space of pruned events back to the disk (tilld must be stopped)",
		Long: "Verifies the ledger, copies it without its free pages into a new file beside it,\n" +
			"verifies the copy and renames it over the original. It needs free space for the copy.",
		Example: `  systemctl stop tilld && tillctl ledger compact --file /var/lib/tilld/ledger.db && systemctl start tilld`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if compactFile == "" {
				return errors.New("--file is required: compaction works on the file, with tilld stopped")
			}
			res, err := ledger.Compact(compactFile, ledger.Options{})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "compacted %s: %d events, %s → %s\n", compactFile, res.Events, size(res.Before), size(res.After))
			return nil
		},
	}
	compact.Flags().StringVar(&compactFile, "file", "", "the ledger file")

	var pruneFile, olderThan string
	prune := &cobra.Command{
		Use:   "prune --file PATH --older-than AGE",
		Short: "remove events HQ acknowledged that are older than AGE (tilld must be stopped)",
		Long: "Only events HQ has acknowledged are removed, oldest first; account views keep their totals\n" +
			"and the chain stays verifiable from the last removed event's hash. A pruned sale id can be\n" +
			"used again. Run compact afterwards to shrink the file. AGE is like 90d, 2160h or 720h30m.",
		Example: `  tillctl ledger prune --file /var/lib/tilld/ledger.db --older-than 90d`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pruneFile == "" || olderThan == "" {
				return errors.New("--file and --older-than are required")
			}
			age, err := parseAge(olderThan)
			if err != nil {
				return err
			}
			l, err := ledger.Open(pruneFile, ledger.Options{})
			if err != nil {
				return err
			}
			res, err := l.Prune(time.Now().Add(-age))
			if cerr := l.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "pruned %d events; the ledger now starts after seq %d\n", res.Pruned, res.Anchor)
			return nil
		},
	}
	prune.Flags().StringVar(&pruneFile, "file", "", "the ledger file")
	prune.Flags().StringVar(&olderThan, "older-than", "", "age of the newest event to remove, e.g. 90d")

	cmd.AddCommand(verify, export, compact, prune, restoreCmd(stdout))
	return cmd
}

// rulesKeyFor finds HQ's rules key for the ledger file at path the way tilld
// finds it: keyFlag; else hq_key of the configuration file, when it sets one
// and either was named on the command line or is the configuration of the
// file's directory; else the enrollment identity in the file's directory. No
// key is nil: the cached rulesets then fail their check, saying so.
func rulesKeyFor(path, keyFlag, configFile string, configNamed bool) (ed25519.PublicKey, error) {
	if keyFlag != "" {
		key, err := wire.ParsePublicKey(keyFlag)
		if err != nil {
			return nil, fmt.Errorf("--hq-key: %w", err)
		}
		return key, nil
	}
	dir := filepath.Dir(path)
	raw, err := os.ReadFile(configFile)
	switch {
	case err == nil:
		cfg, err := daemon.ParseConfig(raw)
		if err != nil {
			if configNamed {
				return nil, fmt.Errorf("%s: %w", configFile, err)
			}
			break
		}
		if sameDir(cfg.DataDir, dir) || configNamed {
			if cfg.HQKey != "" {
				return wire.ParsePublicKey(cfg.HQKey)
			}
		}
	case configNamed:
		return nil, fmt.Errorf("--config: %w", err)
	}
	id, err := daemon.LoadIdentity(dir)
	switch {
	case errors.Is(err, daemon.ErrNotEnrolled):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("enrollment identity beside %s: %w", path, err)
	}
	return wire.ParsePublicKey(id.RulesKey)
}

func sameDir(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// jsonFlag reports whether the root's --json flag is set.
func jsonFlag(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("json")
	return f != nil && f.Value.String() == "true"
}

func printVerify(w io.Writer, rep localapi.VerifyReport) {
	span := "no events"
	if rep.LastSeq > rep.Anchor {
		span = fmt.Sprintf("seqs %d..%d", rep.Anchor+1, rep.LastSeq)
	}
	if rep.Anchor > 0 {
		span += fmt.Sprintf(", pruned through %d", rep.Anchor)
	}
	if rep.OK {
		fmt.Fprintf(w, "ledger of terminal %s: OK — %d events (%s), hash chain intact, %d account views match their rebuild\n",
			rep.Terminal, rep.Events, span, rep.Accounts)
		return
	}
	fmt.Fprintf(w, "ledger of terminal %s: %d PROBLEMS in %d events (%s), %d accounts:\n", rep.Terminal, len(rep.Problems), rep.Events, span, rep.Accounts)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// parseAge reads a Go duration or a number of days ("90d").
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("--older-than %q: want days like 90d or a duration like 2160h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--older-than %q: want days like 90d or a duration like 2160h", s)
	}
	return d, nil
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
