package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
)

// kpiCmd is `tillhq report kpi`: the loyalty programme's figures per period
// and store.
func kpiCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var period, from, to, store, region, by string
	cmd := &cobra.Command{
		Use:   "kpi",
		Short: "the programme per period and store (or region): members, repeat rate, points, returns, expiry, liability, NPS, tiers and their moves, partners, charity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"period": period, "from": from, "to": to, "store": store, "region": region, "by": by} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var rep loyalty.KPIReport
			if err := getReport(cmd, *adminURL, hq.PathReportKPI, q.Encode(), &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			return printKPI(stdout, rep)
		},
	}
	cmd.Flags().StringVar(&period, "period", "month", "day, week (Monday to Sunday) or month")
	cmd.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (default: the twelve months to --to, or to today)")
	cmd.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD (default: today, UTC)")
	cmd.Flags().StringVar(&store, "store", "", "only this store's rows (the chain's stay)")
	cmd.Flags().StringVar(&by, "by", "store", "a row per store or per region")
	cmd.Flags().StringVar(&region, "region", "", "with --by region: only this region's rows (the chain's stay)")
	return cmd
}

func printKPI(w io.Writer, rep loyalty.KPIReport) error {
	cur := rep.Currency
	fmt.Fprintf(w, "loyalty programme by %s, %s to %s", rep.Period, rep.From, rep.To)
	if rep.PointValue > 0 {
		fmt.Fprintf(w, "; a point pays %s", money.Display(rep.PointValue, cur))
	}
	fmt.Fprintln(w)
	for _, p := range rep.Periods {
		fmt.Fprintf(w, "\n%s to %s\n", p.Start, p.End)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		head, rows := "STORE", p.Stores
		if rep.By == loyalty.ByRegion {
			head, rows = "REGION", p.Regions
		}
		fmt.Fprintln(tw, head+"\tSALES\tREVENUE\tRETURNS\tRETURNED\tACTIVE\tNEW\tRETURNING\tREPEAT\tPOINTS EARNED\tSPENT\tREDEMPTION\tNPS\t")
		for i, k := range append([]loyalty.KPI{p.Chain}, rows...) {
			name := k.Store
			switch {
			case i == 0:
				name = "(chain)"
			case rep.By == loyalty.ByRegion:
				name = k.Region
				if name == "" {
					name = "(none)"
				}
			}
			var ret loyalty.ReturnsKPI
			if k.Returns != nil {
				ret = *k.Returns
			}
			nps := "-"
			if k.NPS != nil && k.NPS.Score != nil {
				nps = fmt.Sprintf("%+.1f (%d)", *k.NPS.Score, k.NPS.Answers)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s (%.1f %%)\t%d\t%d\t%d\t%.1f %%\t%d\t%d\t%.1f %%\t%s\t\n", name, k.Sales, money.Display(k.Revenue, cur),
				ret.Count, money.Display(ret.Amount, cur), 100*ret.Share,
				k.Active, k.New, k.Returning, 100*k.RepeatRate, k.PointsEarned, k.PointsRedeemed, 100*k.RedemptionRate, nps)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		liability := "unknown (the ruleset has no redeem rule)"
		if p.Liability != nil {
			liability = money.Display(*p.Liability, cur)
		}
		fmt.Fprintf(w, "  points outstanding at the end: %d, liability %s\n", p.PointsOutstanding, liability)
		if c := p.Chain; c.PointsExpired != nil {
			value := "unknown"
			if c.ExpiredValue != nil {
				value = money.Display(*c.ExpiredValue, cur)
			}
			var breakage float64
			if c.Breakage != nil {
				breakage = *c.Breakage
			}
			fmt.Fprintf(w, "  points expired: %d, worth %s; breakage (expired ÷ earned) %.1f %%\n", *c.PointsExpired, value, 100*breakage)
		}
		if len(p.Chain.Tiers) > 0 {
			fmt.Fprintf(w, "  tiers of active members: %s\n", joinCounts(p.Chain.Tiers, func(v int) string { return fmt.Sprint(v) }))
		}
		if m := p.Chain.TierMoves; len(m) > 0 {
			fmt.Fprintf(w, "  tier moves (last sale before the period → last in it): %s\n", tierMoves(p.Chain))
		}
		if len(p.Chain.Partner) > 0 {
			fmt.Fprintf(w, "  partner points owed: %s\n", joinCounts(p.Chain.Partner, func(v int64) string { return fmt.Sprint(v) }))
		}
		if len(p.Chain.Charity) > 0 {
			fmt.Fprintf(w, "  charity: %s\n", joinCounts(p.Chain.Charity, func(c loyalty.Charity) string {
				return fmt.Sprintf("%s and %d points", money.Display(c.Amount, cur), c.Points)
			}))
		}
	}
	if len(rep.Missing) > 0 {
		fmt.Fprintf(w, "\nnot in this report yet:\n  %s\n", strings.Join(rep.Missing, "\n  "))
	}
	return nil
}

// tierMoves reads "Silver → Gold 2, (none) → Silver 1; 3 up, 0 down" (no
// up and down without a tier order).
func tierMoves(k loyalty.KPI) string {
	name := func(t string) string {
		if t == "" {
			return "(none)"
		}
		return t
	}
	parts := make([]string, len(k.TierMoves))
	for i, m := range k.TierMoves {
		parts[i] = fmt.Sprintf("%s → %s %d", name(m.From), name(m.To), m.Cards)
	}
	s := strings.Join(parts, ", ")
	if k.TiersUp != nil && k.TiersDown != nil {
		s += fmt.Sprintf("; %d up, %d down", *k.TiersUp, *k.TiersDown)
	}
	return s
}

func joinCounts[V any](m map[string]V, format func(V) string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if name == "" {
			name = "(none)"
		}
		parts[i] = name + " " + format(m[k])
	}
	return strings.Join(parts, ", ")
}
