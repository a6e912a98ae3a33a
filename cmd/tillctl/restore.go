package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/daemon"
)

// restoreCmd is `tillctl ledger restore --from-hq`: a till whose disk died gets
// its ledger back from HQ's copy of its chain.
func restoreCmd(stdout io.Writer) *cobra.Command {
	var fromHQ bool
	opts := daemon.RestoreOptions{DataDir: "/var/lib/tilld"}
	cmd := &cobra.Command{
		Use:   "restore --from-hq",
		Short: "rebuild a lost ledger from HQ's copy of this terminal's chain (tilld stopped)",
		Long: "Rebuilds DATA/ledger.db from the events HQ holds of this terminal, read over the terminal's\n" +
			"enrolled identity in DATA/identity: every event, the account views, the sales index, all\n" +
			"acknowledged, on the same chain epoch, so the till sells on from the next seq. It never\n" +
			"overwrites a ledger: move an existing one aside first (keep it: it may hold sales HQ does\n" +
			"not have). See docs/ledger.md, \"Recovery\".",
		Example: `  systemctl stop tilld
  runuser -u tilld -- tillctl ledger restore --from-hq --data /var/lib/tilld
  systemctl start tilld`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !fromHQ {
				return errors.New("say where from: --from-hq (a backup is restored by copying ledger.db and ledger.db-journal back, see docs/ledger.md)")
			}
			opts.Progress = func(done, total uint64) { fmt.Fprintf(stdout, "restored events up to %d of %d\n", done, total) }
			res, err := daemon.RestoreFromHQ(cmd.Context(), opts)
			if err != nil {
				return err
			}
			base := ""
			if e := res.Chain.Epoch; e.BaseSeq > 0 {
				base = fmt.Sprintf(", based on seq %d of epoch %q", e.BaseSeq, e.Parent)
			}
			fmt.Fprintf(stdout, "restored %d events of terminal %s (epoch %q%s, seq up to %d) into %s\nverify: OK (%d events, %d accounts); start tilld to sell on from seq %d\n",
				res.Events, res.Terminal, res.Chain.Epoch.ID, base, res.Chain.Acked, res.Path, res.Report.Events, res.Report.Accounts, res.Chain.Acked+1)
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromHQ, "from-hq", false, "rebuild from HQ's copy of the chain")
	cmd.Flags().StringVar(&opts.DataDir, "data", opts.DataDir, "tilld's data directory (the enrollment identity; the ledger is rebuilt there)")
	cmd.Flags().StringVar(&opts.Epoch, "epoch", "", "the chain epoch to restore (default: the one the terminal uploaded to last)")
	cmd.Flags().StringVar(&opts.HQ, "hq", "", "HQ's address (default: the enrollment's)")
	return cmd
}
