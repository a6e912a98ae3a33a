package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/hq"
)

// npsCmd is `tillhq report nps`: the NPS of the answers the tills recorded
// after sales, their bands and the score, with the trend.
func npsCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var store, terminal, from, to, by, period string
	cmd := &cobra.Command{
		Use:   "nps",
		Short: "net promoter score of the customers' answers at the tills: promoters, passives, detractors, score, trend",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"store": store, "terminal": terminal, "from": from, "to": to, "by": by, "period": period} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var rep loyalty.NPSReport
			if err := getReport(cmd, *adminURL, hq.PathReportNPS, q.Encode(), &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			return printNPS(stdout, rep)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "only this store's answers")
	cmd.Flags().StringVar(&terminal, "terminal", "", "only this terminal's answers")
	cmd.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (the till's day)")
	cmd.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD")
	cmd.Flags().StringVar(&by, "by", "", "also per store, region or terminal")
	cmd.Flags().StringVar(&period, "period", "month", "the trend's step: day, week or month")
	return cmd
}

func printNPS(w io.Writer, rep loyalty.NPSReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name string, n loyalty.NPS) {
		score := "-"
		if n.Score != nil {
			score = fmt.Sprintf("%+.1f", *n.Score)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d (%.1f %%)\t%d (%.1f %%)\t%d (%.1f %%)\t%s\n", name, n.Answers,
			n.Promoters, 100*n.PromoterShare, n.Passives, 100*n.PassiveShare, n.Detractors, 100*n.DetractorShare, score)
	}
	fmt.Fprintln(tw, "\tANSWERS\tPROMOTERS 9-10\tPASSIVES 7-8\tDETRACTORS 0-6\tNPS")
	row("total", rep.Total)
	for _, g := range rep.Groups {
		row(rep.By+" "+g.Key, g.NPS)
	}
	if len(rep.Trend) > 0 {
		fmt.Fprintf(tw, "\nBY %s\t\t\t\t\t\n", rep.Period)
		for _, p := range rep.Trend {
			row(p.Start, p.NPS)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Total.Asked > 0 {
		fmt.Fprintf(w, "\nasked at %d sales, %d answered (%.1f %%)\n", rep.Total.Asked, rep.Total.AnsweredAsked, 100*rep.Total.ResponseRate)
	}
	m := rep.Total.WordOfMouth
	fmt.Fprintf(w, "word of mouth (seed 004's estimate): %.2f customers won, %.2f lost, net %.2f (%.2f to %.2f)\n", m.Won, m.Lost, m.Net, m.Low, m.High)
	return nil
}
