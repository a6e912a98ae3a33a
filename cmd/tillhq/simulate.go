package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/sync/hqclient"
)

// simulateCmd is `tillhq rules simulate FILE`: the draft priced against the
// sales HQ holds, beside what the live rules gave.
func simulateCmd(stdout io.Writer) *cobra.Command {
	var hqURL, from, to, store string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "simulate FILE",
		Short: "price the sales HQ holds again with a draft ruleset: discounts and points per rule, per store and in total, against the live rules",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readRuleset(args[0])
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"from": from, "to": to, "store": store} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var sim hq.Simulation
			r := hqclient.Request{Method: http.MethodPost, Path: hq.PathAdminRulesSimulate + "?" + q.Encode(), Body: bytes.NewReader(raw), ContentType: "application/toml"}
			if err := doJSON(cmd.Context(), hqURL, r, &sim); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(sim)
			}
			return printSimulation(stdout, sim)
		},
	}
	cmd.Flags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.Flags().StringVar(&from, "from", "", "first day of the sales, YYYY-MM-DD on the tills' clocks (default: 6 days before today)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the sales, YYYY-MM-DD (default: today)")
	cmd.Flags().StringVar(&store, "store", "", "only this store's sales")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	return cmd
}

// printSimulation writes a simulation for people: money in major units with
// its currency, each figure live, draft and the change.
func printSimulation(w io.Writer, sim hq.Simulation) error {
	cur := sim.Currency
	m := func(a money.Amount) string { return money.Display(a, cur) }
	signed := func(a money.Amount) string {
		if a > 0 {
			return "+" + m(a)
		}
		return m(a)
	}
	pts := func(n int64) string {
		if n > 0 {
			return fmt.Sprintf("+%d", n)
		}
		return fmt.Sprint(n)
	}
	fmt.Fprintf(w, "ruleset version %d against the sales of %s to %s, %s: %d sales priced again, %d priced otherwise, %d customers affected\n\n",
		sim.Version, sim.From, sim.To, cmp.Or(sim.Store, "every store"), sim.Sales, sim.Changed, sim.Customers)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tLIVE\tDRAFT\tCHANGE\t")
	fmt.Fprintf(tw, "discounts\t%s\t%s\t%s\t\n", m(sim.Live.Discount), m(sim.Draft.Discount), signed(sim.Draft.Discount-sim.Live.Discount))
	fmt.Fprintf(tw, "paid\t%s\t%s\t%s\t\n", m(sim.Live.Total), m(sim.Draft.Total), signed(sim.Draft.Total-sim.Live.Total))
	fmt.Fprintf(tw, "points earned\t%d\t%d\t%s\t\n", sim.Live.PointsEarned, sim.Draft.PointsEarned, pts(sim.Draft.PointsEarned-sim.Live.PointsEarned))
	fmt.Fprintf(tw, "points redeemed\t%d\t%d\t%s\t\n", sim.Live.PointsRedeemed, sim.Draft.PointsRedeemed, pts(sim.Draft.PointsRedeemed-sim.Live.PointsRedeemed))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RULE\tKIND\tSALES LIVE\tSALES DRAFT\tDISCOUNT LIVE\tDISCOUNT DRAFT\tCHANGE\tPOINTS LIVE\tPOINTS DRAFT\tCHANGE\t")
	for _, r := range sim.Rules {
		name := r.Rule
		switch {
		case !r.InDraft:
			name += " (not in the draft)"
		case !r.InLive:
			name += " (new)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t\n", name, r.Kind, r.LiveSales, r.DraftSales, m(r.LiveAmount), m(r.DraftAmount),
			signed(r.DraftAmount-r.LiveAmount), r.LivePoints, r.DraftPoints, pts(r.DraftPoints-r.LivePoints))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STORE\tSALES\tCUSTOMERS\tDISCOUNT LIVE\tDISCOUNT DRAFT\tCHANGE\tPOINTS LIVE\tPOINTS DRAFT\tCHANGE\t")
	for _, s := range sim.Stores {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t\n", cmp.Or(s.Store, "(none)"), s.Sales, s.Customers, m(s.Live.Discount), m(s.Draft.Discount),
			signed(s.Draft.Discount-s.Live.Discount), s.Live.PointsEarned, s.Draft.PointsEarned, pts(s.Draft.PointsEarned-s.Live.PointsEarned))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sim.Unpriceable+sim.OtherCurrency+sim.Failed > 0 {
		fmt.Fprintf(w, "\nleft out: %d sales recorded before tills kept their inputs, %d in another currency than %s, %d the engine refused", sim.Unpriceable, sim.OtherCurrency, cur, sim.Failed)
		if sim.FirstFailure != "" {
			fmt.Fprintf(w, " (first: %s)", sim.FirstFailure)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// readRuleset reads a ruleset file and checks it as HQ will.
func readRuleset(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := hq.ValidateRuleset(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return raw, nil
}

// rollbackCmd is `tillhq rules rollback VERSION`.
func rollbackCmd(stdout io.Writer) *cobra.Command {
	var hqURL string
	cmd := &cobra.Command{
		Use:   "rollback VERSION",
		Short: "publish an earlier version's file again as the next version, in effect at once (a scheduled ruleset waiting is cancelled)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || v <= 0 {
				return fmt.Errorf("version %q: want the number of a published version (tillhq rules list)", args[0])
			}
			body, _ := json.Marshal(hq.RollbackRequest{Version: v})
			var ans struct {
				Version int64  `json:"version"`
				Hash    string `json:"hash"`
			}
			r := hqclient.Request{Method: http.MethodPost, Path: hq.PathAdminRulesRollback, Body: bytes.NewReader(body)}
			if err := doJSON(cmd.Context(), hqURL, r, &ans); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "rolled back to version %d: published as version %d (sha256 %s)\n", v, ans.Version, ans.Hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	return cmd
}

// rulesListCmd is `tillhq rules list`.
func rulesListCmd(stdout io.Writer) *cobra.Command {
	var hqURL string
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "the published rulesets, newest first, with when each takes effect",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []hq.PublishedRules
			r := hqclient.Request{Path: hq.PathAdminRulesVersions + "?limit=" + strconv.Itoa(limit)}
			if err := doJSON(cmd.Context(), hqURL, r, &list); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(list)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tEFFECTIVE\tCURRENCY\tRULES\tSHA256\t")
			for _, p := range list {
				eff := cmp.Or(p.Effective, "at once")
				if p.Problem != "" {
					eff = "does not parse: " + p.Problem
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t\n", p.Version, eff, p.Currency, p.Rules, p.Hash)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many (1 to 1000)")
	return cmd
}
