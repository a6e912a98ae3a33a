package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
)

// The loyalty reports: cadence, overdue, segments, clv (and kpi, kpi.go).

// loyaltyFlags are the flags the loyalty reports share.
type loyaltyFlags struct {
	asOf, store string
	segments    []string
	goals       []string
	limit       int
}

func (f *loyaltyFlags) add(cmd *cobra.Command, limit int, filter, goals bool) {
	cmd.Flags().StringVar(&f.asOf, "as-of", "", "report as of this day, YYYY-MM-DD (default: today, UTC)")
	if filter {
		cmd.Flags().StringVar(&f.store, "store", "", "only the customers whose home store (most visits) is this one")
		cmd.Flags().StringSliceVar(&f.segments, "segment", nil, "only these segments ("+strings.Join(loyalty.Segments, ", ")+")")
		cmd.Flags().IntVar(&f.limit, "limit", limit, "list at most this many customers (-1: all)")
	}
	if goals {
		cmd.Flags().StringSliceVar(&f.goals, "goal", nil, "visit-frequency goal SEGMENT=DAYS (repeatable; * for every other segment; default *=30)")
	}
}

func (f *loyaltyFlags) query(extra url.Values) string {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if f.asOf != "" {
		q.Set("as_of", f.asOf)
	}
	if f.store != "" {
		q.Set("store", f.store)
	}
	for _, s := range f.segments {
		q.Add("segment", s)
	}
	for _, g := range f.goals {
		q.Add("goal", g)
	}
	q.Set("limit", strconv.Itoa(f.limit))
	return q.Encode()
}

func getReport(cmd *cobra.Command, adminURL, path, query string, out any) error {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, strings.TrimRight(adminURL, "/")+path+"?"+query, nil)
	if err != nil {
		return err
	}
	return doJSON(req, out)
}

func cadenceCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var f loyaltyFlags
	cmd := &cobra.Command{
		Use:   "cadence",
		Short: "how often customers come back: cycles, who is late, the visit-frequency goals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep loyalty.CadenceReport
			if err := getReport(cmd, *adminURL, hq.PathReportCadence, f.query(nil), &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			return printCadence(stdout, rep)
		},
	}
	f.add(cmd, 20, true, true)
	return cmd
}

func printCadence(w io.Writer, rep loyalty.CadenceReport) error {
	fmt.Fprintf(w, "as of %s: %d customers, %d with a purchase cycle (median %.1f days), %d late\n",
		rep.AsOf, rep.Customers, rep.WithCycle, rep.MedianCycle, rep.Late)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCYCLE\tCUSTOMERS")
	for _, b := range rep.Cycles {
		fmt.Fprintf(tw, "%s\t%d\n", b.Label, b.Customers)
	}
	fmt.Fprintln(tw, "\nSEGMENT\tGOAL\tCUSTOMERS\tMEETING\tSHARE")
	for _, g := range rep.Goals {
		fmt.Fprintf(tw, "%s\tevery %d days\t%d\t%d\t%.1f %%\n", g.Segment, g.EveryDays, g.Customers, g.Meeting, 100*g.Share)
	}
	if len(rep.Rows) > 0 {
		fmt.Fprintln(tw, "\nCARD\tVISITS\tLAST\tCYCLE\tSPREAD\tNEXT\tLATE\tSEGMENT\tSTORES\tSPEND")
		for _, r := range rep.Rows {
			late := "-"
			if r.Late {
				late = fmt.Sprintf("%d days", r.DaysLate)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\n", r.Card, r.Visits, r.Last, r.Cycle, r.Spread,
				orDash(r.Next), late, r.Segment, strings.Join(r.Stores, " "), money.Display(r.Spend, rep.Currency))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Truncated > 0 {
		fmt.Fprintf(w, "... and %d more customers (--limit -1 lists all)\n", rep.Truncated)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func overdueCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var f loyaltyFlags
	var asCSV bool
	cmd := &cobra.Command{
		Use:   "overdue",
		Short: "customers late on their own purchase cycle, for reminders (contacts only with consent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asCSV {
				req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet,
					strings.TrimRight(*adminURL, "/")+hq.PathReportOverdue+"?"+f.query(url.Values{"format": {"csv"}}), nil)
				if err != nil {
					return err
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
					return fmt.Errorf("HQ answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
				}
				_, err = io.Copy(stdout, resp.Body)
				return err
			}
			var rep loyalty.OverdueReport
			if err := getReport(cmd, *adminURL, hq.PathReportOverdue, f.query(nil), &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			fmt.Fprintf(stdout, "as of %s: %d customers late on their own cycle\n", rep.AsOf, rep.Late)
			if len(rep.Rows) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nCARD\tHOLDER\tCONTACT\tLAST\tCYCLE\tEXPECTED\tDAYS LATE\tSEGMENT\tSTORES")
			for _, r := range rep.Rows {
				contact := strings.Join(strings.Fields(r.Phone+" "+r.Email), " ")
				if r.Holder != "" && !r.Consent {
					contact = "(no consent)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f±%.1f\t%s\t%d\t%s\t%s\n", r.Card, orDash(r.Holder), orDash(contact), r.Last,
					r.Cycle, r.Spread, r.Next, r.DaysLate, r.Segment, strings.Join(r.Stores, " "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if rep.Truncated > 0 {
				fmt.Fprintf(stdout, "... and %d more (--limit -1 lists all)\n", rep.Truncated)
			}
			return nil
		},
	}
	f.add(cmd, -1, true, false)
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV (for a call list or a spreadsheet)")
	return cmd
}

func segmentsCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var f loyaltyFlags
	cmd := &cobra.Command{
		Use:   "segments",
		Short: "customers by loyalty segment, chain-wide and per home store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep loyalty.SegmentReport
			if err := getReport(cmd, *adminURL, hq.PathReportSegments, f.query(nil), &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			fmt.Fprintf(stdout, "as of %s: %d customers (NPS known for %d)\n\n", rep.AsOf, rep.Customers, rep.NPSKnown)
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprint(tw, "STORE\tCUSTOMERS")
			for _, s := range rep.Segments {
				fmt.Fprintf(tw, "\t%s", strings.ToUpper(s.Segment))
			}
			fmt.Fprint(tw, "\n(chain)\t", rep.Customers)
			for _, s := range rep.Segments {
				fmt.Fprintf(tw, "\t%d", s.Customers)
			}
			fmt.Fprintln(tw)
			for _, st := range rep.Stores {
				fmt.Fprintf(tw, "%s\t%d", orDash(st.Store), st.Customers)
				for _, s := range rep.Segments {
					fmt.Fprintf(tw, "\t%d", st.Segments[s.Segment])
				}
				fmt.Fprintln(tw)
			}
			fmt.Fprint(tw, "mean indicator\t")
			for _, s := range rep.Segments {
				fmt.Fprintf(tw, "\t%.1f", s.MeanIndicator)
			}
			fmt.Fprintln(tw)
			return tw.Flush()
		},
	}
	f.add(cmd, 0, false, true)
	return cmd
}

func clvCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	var f loyaltyFlags
	cmd := &cobra.Command{
		Use:   "clv",
		Short: "the customer-base model (BG/NBD, Gamma-Gamma) and the customers by expected value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep loyalty.CLVReport
			if err := getReport(cmd, *adminURL, hq.PathReportCLV, f.query(nil), &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			m := rep.Model
			fmt.Fprintf(stdout, "as of %s: model fitted to %d customers", rep.AsOf, m.Customers)
			if m.Penalized {
				fmt.Fprint(stdout, " (thin data: penalized fit)")
			}
			fmt.Fprintln(stdout)
			if m.BGNBD != nil {
				p := m.BGNBD.Params
				fmt.Fprintf(stdout, "BG/NBD (weeks): r %.4f, alpha %.4f, a %.4f, b %.4f; log-likelihood %.2f\n", p.R, p.Alpha, p.A, p.B, m.BGNBD.LogLikelihood)
			}
			if m.Spend != nil {
				g := m.Spend.Params
				fmt.Fprintf(stdout, "Gamma-Gamma: p %.4f, q %.4f, gamma %.4f; mean spend per purchase %s\n", g.P, g.Q, g.Gamma, money.Display(rep.MeanSpend, rep.Currency))
			}
			if m.Why != "" {
				fmt.Fprintf(stdout, "no value: %s\n", m.Why)
				return nil
			}
			fmt.Fprintf(stdout, "value: %s; all customers %s\n", rep.Horizon, money.Display(rep.Total, rep.Currency))
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nCARD\tVISITS\tLAST\tP(ALIVE)\tSPEND\tVALUE\tSEGMENT")
			for _, r := range rep.Rows {
				p := "-"
				if r.PAlive != nil {
					p = fmt.Sprintf("%.3f", *r.PAlive)
				}
				v := "-"
				if r.Value != nil {
					v = money.Display(*r.Value, rep.Currency)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Card, r.Visits, r.Last, p, money.Display(r.Spend, rep.Currency), v, r.Segment)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if rep.Truncated > 0 {
				fmt.Fprintf(stdout, "... and %d more (--limit -1 lists all)\n", rep.Truncated)
			}
			return nil
		},
	}
	f.add(cmd, 20, true, false)
	return cmd
}
