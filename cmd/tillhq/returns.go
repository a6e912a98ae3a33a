package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// returnExcessCmd is `tillhq report return-excess`.
func returnExcessCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "return-excess",
		Short: "returns taken offline on a receipt's word that gave back other than their sale allows",
		Long: `Returns a till took offline, on what the customer's receipt said, of a
sale made at another till, reconciled at HQ against the sale: the card got what
the sale allows; the rows are the returns that gave back more (or less), why
(no_sale, over_return, amounts, card), and by how much.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep wire.ReturnExcessReport
			if err := doJSON(cmd.Context(), *adminURL, hqclient.Request{Path: wire.PathReportReturnExcess}, &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			return printReturnExcess(stdout, rep)
		},
	}
}

func printReturnExcess(w io.Writer, rep wire.ReturnExcessReport) error {
	if len(rep.Returns) == 0 {
		_, err := fmt.Fprintln(w, "no return taken offline gave back more than its sale allows")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TILL\tSEQ\tREFUND\tRECEIPT\tCARD\tWHY\tUNITS\tHANDED BACK\tSALE ALLOWS\tEXCESS\tPOINTS BACK\tPOINTS TAKEN")
	for _, x := range rep.Returns {
		m := func(a money.Amount) string { return money.Display(a, x.Currency) }
		card := pos.MaskCard(x.Card)
		if x.ClaimedCard != "" {
			card += " (receipt: " + pos.MaskCard(x.ClaimedCard) + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d of %d\t%s\t%s\t%s\t%d of %d\t%d of %d\n",
			x.Terminal, x.Seq, x.Refund, x.Receipt, card, strings.Join(x.Reasons, ","),
			x.AppliedUnits, x.ClaimedUnits, m(x.ClaimedBack), m(x.AppliedBack), m(x.Excess),
			x.AppliedPointsReturned, x.ClaimedPointsReturned, x.AppliedPointsReversed, x.ClaimedPointsReversed)
	}
	return tw.Flush()
}
