package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// auditCmd is `tillhq report audit`: the sales HQ's audit flagged, with what
// differs, and its summary.
func auditCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "synced sales HQ priced again and flagged: unpublished or altered rulesets, totals that differ",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep wire.AuditReport
			if err := doJSON(cmd.Context(), *adminURL, hqclient.Request{Path: fmt.Sprintf("%s?limit=%d", wire.PathReportAudit, limit)}, &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			return printAudit(stdout, rep)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 1000, "list at most this many flagged sales (0: all)")
	return cmd
}

func printAudit(w io.Writer, rep wire.AuditReport) error {
	s := rep.Summary
	fmt.Fprintf(w, "audited %s: %d flagged, %d not re-priceable; %s not audited yet\n", plural(s.Sales, "sale"), s.Flagged, s.Unpriceable, plural(s.Waiting, "event"))
	fmt.Fprintf(w, "audited %s: %d flagged\n", plural(s.Refunds, "refund"), s.RefundsFlagged)
	for _, f := range rep.Flags {
		chain := ""
		if f.Epoch != "" {
			chain = " epoch " + f.Epoch
		}
		what := "sale " + f.SaleID
		if f.Refund != "" {
			what = "refund " + f.Refund + " of sale " + f.SaleID
		}
		fmt.Fprintf(w, "\nFLAGGED %s%s seq %d: %s at %s, ruleset version %d\n", f.Terminal, chain, f.Seq, what,
			f.At.UTC().Format("2006-01-02 15:04:05 UTC"), f.RulesetVersion)
		for _, fd := range f.Findings {
			fmt.Fprintf(w, "  %s\n", hq.FormatFinding(fd, f.Currency))
		}
	}
	if n := int64(len(rep.Flags)); n < s.Flagged+s.RefundsFlagged {
		fmt.Fprintf(w, "\n... and %d more flagged sales and refunds (--limit 0 lists all)\n", s.Flagged+s.RefundsFlagged-n)
	}
	for _, c := range rep.Chains {
		if c.Unpriceable == 0 {
			continue
		}
		chain := "first chain"
		if c.Epoch != "" {
			chain = "epoch " + c.Epoch
		}
		fmt.Fprintf(w, "\n%s %s: %s not re-priceable (sold before the till recorded what it priced with), seq %d-%d\n",
			c.Terminal, chain, plural(c.Unpriceable, "sale"), c.UnpricedFirst, c.UnpricedLast)
	}
	return nil
}

// plural writes n things: "1 sale", "2 sales".
func plural(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
